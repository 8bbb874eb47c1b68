"""The Airbyte source: connector, options, stream specs, streams, state, change capture, reader."""
