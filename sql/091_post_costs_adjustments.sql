-- post_costs, a view over the events since 090, shows re-pricing adjustments (060) as well: a
-- post's adjustment is the sum of its adjustment deltas, read through an index on the post.
CREATE INDEX cost_adjustments_post ON cost_adjustments (post_id) WHERE post_id IS NOT NULL;

CREATE OR REPLACE VIEW post_costs AS
SELECT post_id,
       min(persona_id) AS persona_id,
       sum(amount_usd)::numeric(24, 9) AS total_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'openai_api'), 0)::numeric(24, 9) AS openai_api_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'kubernetes'), 0)::numeric(24, 9) AS kubernetes_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type = 'vector_db'), 0)::numeric(24, 9) AS vector_db_usd,
       coalesce(sum(amount_usd) FILTER (WHERE cost_type NOT IN ('openai_api', 'kubernetes', 'vector_db')), 0)::numeric(24, 9) AS other_usd,
       count(*) AS event_count,
       count(*) FILTER (WHERE price_status <> 'priced') AS unpriced_event_count,
       min(event_time) AS first_event_at,
       max(event_time) AS last_event_at,
       max(ingested_at) AS updated_at,
       coalesce((SELECT sum(a.new_amount_usd - a.old_amount_usd) FROM cost_adjustments a WHERE a.post_id = cost_events.post_id), 0)::numeric(24, 9) AS adjustment_usd
FROM cost_events
WHERE post_id IS NOT NULL
GROUP BY post_id;

-- Every audited operator action: those of 060 (re-pricing) and 070 (scoped budgets, teams) together.
ALTER TABLE api_audit_log DROP CONSTRAINT api_audit_log_action_check;
ALTER TABLE api_audit_log ADD CONSTRAINT api_audit_log_action_check CHECK (action IN (
    'budget.create', 'budget.replace', 'budget.delete', 'control.resume', 'control.override', 'ledger.reprice',
    'scoped_budget.create', 'scoped_budget.replace', 'scoped_budget.delete', 'team.assign', 'team.unassign'));
