-- Failed payments and how dunning ended them: every subscription invoice whose payment was
-- declined at least once, with the subscription's status now (past_due: retries ahead;
-- canceled for payment_failed: involuntary churn). Times are epoch seconds: to_timestamp().
SELECT c.name                                          AS customer,
       to_timestamp(i.created)::DATE                   AS billed_on,
       i.attempt_count                                 AS attempts,
       i.status                                        AS invoice,
       to_timestamp(i.next_payment_attempt)::DATE      AS next_retry,
       s.status                                        AS subscription,
       s.cancellation_details->>'$.reason'             AS canceled_for
FROM invoices AS i
JOIN subscriptions AS s ON s.id = i.subscription
JOIN customers AS c ON c.id = i.customer
WHERE i.attempt_count > 1 OR i.status IN ('open', 'uncollectible')
ORDER BY i.created;
