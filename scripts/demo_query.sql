-- Monthly recurring revenue by product and billing period, from the synced tables.
-- A subscription's price sits in items.data[0].price (yearly plans count 1/12 per month).
SELECT p.name                                          AS product,
       s.items->>'$.data[0].price.recurring.interval' AS billing,
       count(*)                                        AS subscriptions,
       round(sum((s.items->>'$.data[0].price.unit_amount')::BIGINT
                 / IF(s.items->>'$.data[0].price.recurring.interval' = 'year', 12, 1)) / 100, 2) AS mrr_usd
FROM subscriptions AS s
JOIN products AS p ON p.id = (s.items->>'$.data[0].price.product')
WHERE s.status IN ('active', 'trialing')
GROUP BY ALL
ORDER BY mrr_usd DESC;
