-- name: create-counters
INSERT INTO flow_counters (flow_id, workspace_id) VALUES ($2::int, $1::int) ON CONFLICT DO NOTHING

-- name: lock-flow
SELECT version, status FROM flows WHERE workspace_id = $1::int AND id = $2::int FOR UPDATE

-- name: hold-flow
-- A paused flow's people stay where they are: their rows are leased until the flow is resumed.
UPDATE flow_steps_due SET lease_until = 'infinity' WHERE workspace_id = $1::int AND flow_id = $2::int

-- name: release-held
UPDATE flow_steps_due SET lease_until = NULL
WHERE workspace_id = $1::int AND flow_id = $2::int AND lease_until = 'infinity'

-- name: hold-rows
UPDATE flow_steps_due SET lease_until = 'infinity' WHERE enrolment_id = ANY($1::bigint[])

-- name: enrol
-- $1 workspace, $2 flow, $3 version, $4 subscriber ids, $5 now, $6 trigger ref, $7 once?, $8 minimum gap (hours).
-- Subscribers of another workspace are not found; a live enrolment (or any, for "once") keeps a person out.
WITH candidates AS (
    SELECT DISTINCT s.id FROM unnest($4::bigint[]) AS i(id)
    JOIN subscribers s ON s.id = i.id AND s.workspace_id = $1::int
    WHERE NOT EXISTS (
        SELECT 1 FROM flow_enrolments e
        WHERE e.flow_id = $2::int AND e.subscriber_id = s.id
          AND (e.status = 'active' OR $7::boolean OR e.entered_at > $5::timestamptz - make_interval(hours => $8::int)))
)
INSERT INTO flow_enrolments (workspace_id, flow_id, version, subscriber_id, status, entered_at, trigger_ref)
SELECT $1::int, $2::int, $3::int, id, 'active', $5::timestamptz, $6::text FROM candidates ORDER BY id
ON CONFLICT (flow_id, subscriber_id) WHERE status = 'active' DO NOTHING
RETURNING id, subscriber_id

-- name: count-enrolled
INSERT INTO flow_counters AS c (flow_id, workspace_id, enrolled, active) VALUES ($2::int, $1::int, $3::int, $3::int)
ON CONFLICT (flow_id) DO UPDATE SET enrolled = c.enrolled + EXCLUDED.enrolled, active = c.active + EXCLUDED.active

-- name: claim-expired
-- Rows whose worker died (its lease has passed), before the new ones.
WITH due AS (
    SELECT enrolment_id FROM flow_steps_due
    WHERE lease_until < $1::timestamptz AND due_at <= $1::timestamptz
    LIMIT $2::int
    FOR UPDATE SKIP LOCKED
)
UPDATE flow_steps_due d SET lease_until = $1::timestamptz + make_interval(secs => $3::int)
FROM due WHERE d.enrolment_id = due.enrolment_id
RETURNING d.enrolment_id, d.workspace_id, d.flow_id, d.version, d.subscriber_id, d.step_id, d.visit,
          d.waiting_event, d.timeout_at

-- name: claim-due
WITH due AS (
    SELECT enrolment_id FROM flow_steps_due
    WHERE lease_until IS NULL AND due_at <= $1::timestamptz
    ORDER BY due_at
    LIMIT $2::int
    FOR UPDATE SKIP LOCKED
)
UPDATE flow_steps_due d SET lease_until = $1::timestamptz + make_interval(secs => $3::int)
FROM due WHERE d.enrolment_id = due.enrolment_id
RETURNING d.enrolment_id, d.workspace_id, d.flow_id, d.version, d.subscriber_id, d.step_id, d.visit,
          d.waiting_event, d.timeout_at

-- name: flows-of
SELECT f.id, f.workspace_id, f.status, v.version, v.steps, v.settings
FROM flows f JOIN flow_versions v ON v.flow_id = f.id
WHERE f.id = ANY($1::int[]) AND v.version = ANY($2::int[])

-- name: record-runs
-- $1 workspace, $2 flow, $3 version, $4 step, $5 now, then per run: enrolment, visit, outcome, delivery, detail.
-- A run already recorded (another worker, or a re-run after a crash) is not returned: it is not done twice.
INSERT INTO flow_step_runs (workspace_id, enrolment_id, flow_id, version, step_id, visit, outcome, delivery_id,
                            detail, ran_at)
SELECT $1::int, r.enrolment_id, $2::int, $3::int, $4::text, r.visit, r.outcome, NULLIF(r.delivery_id, 0), r.detail,
       $5::timestamptz
FROM unnest($6::bigint[], $7::smallint[], $8::text[], $9::bigint[], $10::text[])
    AS r(enrolment_id, visit, outcome, delivery_id, detail)
ON CONFLICT (enrolment_id, step_id, version, visit) DO NOTHING
RETURNING enrolment_id, outcome

-- name: count-runs
-- $1 workspace, $2 flow, $3 version, $4 step, $5 outcomes of the runs written (one per run).
INSERT INTO flow_step_stats AS t (workspace_id, flow_id, version, step_id, waiting, done, yes, no, sent, skipped,
                                  event, timeout, exited)
SELECT $1::int, $2::int, $3::int, $4::text, -count(*),
       count(*) FILTER (WHERE o = 'done'), count(*) FILTER (WHERE o = 'yes'), count(*) FILTER (WHERE o = 'no'),
       count(*) FILTER (WHERE o = 'sent'), count(*) FILTER (WHERE o = 'skipped'),
       count(*) FILTER (WHERE o = 'event'), count(*) FILTER (WHERE o = 'timeout'),
       count(*) FILTER (WHERE o = 'exited')
FROM unnest($5::text[]) AS o
ON CONFLICT (flow_id, version, step_id) DO UPDATE SET
    waiting = t.waiting + EXCLUDED.waiting, done = t.done + EXCLUDED.done, yes = t.yes + EXCLUDED.yes,
    no = t.no + EXCLUDED.no, sent = t.sent + EXCLUDED.sent, skipped = t.skipped + EXCLUDED.skipped,
    event = t.event + EXCLUDED.event, timeout = t.timeout + EXCLUDED.timeout, exited = t.exited + EXCLUDED.exited

-- name: count-entered
INSERT INTO flow_step_stats AS t (workspace_id, flow_id, version, step_id, entered, waiting)
VALUES ($1::int, $2::int, $3::int, $4::text, $5::int, $5::int)
ON CONFLICT (flow_id, version, step_id) DO UPDATE SET
    entered = t.entered + EXCLUDED.entered, waiting = t.waiting + EXCLUDED.waiting

-- name: finish
-- $1 workspace, $2 enrolments, $3 status (completed | exited), $4 exit reason, $5 now.
WITH gone AS (
    DELETE FROM flow_steps_due WHERE workspace_id = $1::int AND enrolment_id = ANY($2::bigint[])
),
ended AS (
    UPDATE flow_enrolments SET status = $3::text, exit_reason = $4::text, finished_at = $5::timestamptz
    WHERE workspace_id = $1::int AND id = ANY($2::bigint[]) AND status = 'active'
    RETURNING flow_id
),
per_flow AS (SELECT flow_id, count(*) AS n FROM ended GROUP BY flow_id)
UPDATE flow_counters c SET active = c.active - p.n,
    completed = c.completed + CASE WHEN $3::text = 'completed' THEN p.n ELSE 0 END,
    exited = c.exited + CASE WHEN $3::text = 'exited' THEN p.n ELSE 0 END
FROM per_flow p WHERE c.flow_id = p.flow_id

-- name: exit-waiting
-- $1 workspace, $2 enrolments, $3 reason, $4 now: people leaving wherever they wait (an exit condition met
-- between steps, an archived flow), each with an "exited" run at the step they were at.
WITH gone AS (
    DELETE FROM flow_steps_due WHERE workspace_id = $1::int AND enrolment_id = ANY($2::bigint[])
    RETURNING enrolment_id, flow_id, version, step_id, visit
),
runs AS (
    INSERT INTO flow_step_runs (workspace_id, enrolment_id, flow_id, version, step_id, visit, outcome, detail, ran_at)
    SELECT $1::int, enrolment_id, flow_id, version, step_id, visit, 'exited', $3::text, $4::timestamptz FROM gone
    ON CONFLICT (enrolment_id, step_id, version, visit) DO NOTHING
),
stats AS (
    INSERT INTO flow_step_stats AS t (workspace_id, flow_id, version, step_id, waiting, exited)
    SELECT $1::int, flow_id, version, step_id, -count(*), count(*) FROM gone GROUP BY flow_id, version, step_id
    ON CONFLICT (flow_id, version, step_id) DO UPDATE SET
        waiting = t.waiting + EXCLUDED.waiting, exited = t.exited + EXCLUDED.exited
),
ended AS (
    UPDATE flow_enrolments SET status = 'exited', exit_reason = $3::text, finished_at = $4::timestamptz
    WHERE workspace_id = $1::int AND id IN (SELECT enrolment_id FROM gone) AND status = 'active'
    RETURNING flow_id
),
per_flow AS (SELECT flow_id, count(*) AS n FROM ended GROUP BY flow_id)
UPDATE flow_counters c SET active = c.active - p.n, exited = c.exited + p.n
FROM per_flow p WHERE c.flow_id = p.flow_id

-- name: reschedule
-- Send steps told to try later (quiet hours, frequency cap): same step, new time, lease released.
UPDATE flow_steps_due d SET due_at = r.due_at, lease_until = NULL
FROM unnest($2::bigint[], $3::timestamptz[]) AS r(enrolment_id, due_at)
WHERE d.workspace_id = $1::int AND d.enrolment_id = r.enrolment_id AND d.step_id = $4::text

-- name: wake-waiting
-- $1 workspace, $2 subscribers, $3 event, $4 now: the waits listening for the event end now.
UPDATE flow_steps_due SET due_at = $4::timestamptz, waiting_event = NULL
WHERE workspace_id = $1::int AND subscriber_id = ANY($2::bigint[]) AND waiting_event = $3::text
RETURNING enrolment_id

-- name: reach-goal
-- $1 workspace, $2 subscribers, $3 event, $4 now, $5 attribution window (days after finishing): enrolments
-- whose version's goal is this event convert once; each flow counts them.
WITH converted AS (
    UPDATE flow_enrolments e SET converted_at = $4::timestamptz
    FROM flow_versions v
    WHERE e.workspace_id = $1::int AND e.subscriber_id = ANY($2::bigint[]) AND e.converted_at IS NULL
      AND (e.status = 'active' OR e.finished_at >= $4::timestamptz - make_interval(days => $5::int))
      AND v.flow_id = e.flow_id AND v.version = e.version AND v.settings -> 'goal' ->> 'event' = $3::text
    RETURNING e.flow_id
),
per_flow AS (SELECT flow_id, count(*) AS n FROM converted GROUP BY flow_id)
UPDATE flow_counters c SET converted = c.converted + p.n FROM per_flow p WHERE c.flow_id = p.flow_id
RETURNING c.converted

-- name: exits-on-event
-- $1 workspace, $2 subscribers, $3 exit condition: live enrolments of flows whose version exits on it.
SELECT e.id FROM flow_enrolments e JOIN flow_versions v ON v.flow_id = e.flow_id AND v.version = e.version
WHERE e.workspace_id = $1::int AND e.subscriber_id = ANY($2::bigint[]) AND e.status = 'active'
  AND v.settings -> 'exit_on' @> jsonb_build_array($3::text)

-- name: unsubscribed-of
-- Those of $2 (subscribers) who no longer take mail from their list.
SELECT id FROM subscribers WHERE workspace_id = $1::int AND id = ANY($2::bigint[])
  AND status IN ('unsubscribed', 'bounced', 'complained', 'blacklisted')

-- name: gotos-taken
-- How often each enrolment has jumped back from a goto step.
SELECT enrolment_id, count(*) AS n FROM flow_step_runs
WHERE enrolment_id = ANY($1::bigint[]) AND step_id = $2::text AND outcome = 'yes' AND workspace_id = $3::int
GROUP BY enrolment_id

-- name: waiting-on-version
-- $1 workspace, $2 flow, $3 version, $4 now: the people waiting on that version, locked, except those a
-- worker is running right now (their lease has not passed; a paused flow's hold is no worker).
SELECT enrolment_id, subscriber_id, step_id, visit FROM flow_steps_due
WHERE workspace_id = $1::int AND flow_id = $2::int AND version = $3::int
  AND (lease_until IS NULL OR lease_until < $4::timestamptz OR lease_until = 'infinity')
FOR UPDATE

-- name: repoint-enrolments
UPDATE flow_enrolments SET version = $3::int WHERE workspace_id = $1::int AND id = ANY($2::bigint[])

-- name: leave-steps
-- $1 workspace, $2 flow, $3 version, $4 steps (one per person leaving it): the waiting counts drop.
INSERT INTO flow_step_stats AS t (workspace_id, flow_id, version, step_id, waiting)
SELECT $1::int, $2::int, $3::int, step_id, -count(*) FROM unnest($4::text[]) AS step_id GROUP BY step_id
ON CONFLICT (flow_id, version, step_id) DO UPDATE SET waiting = t.waiting + EXCLUDED.waiting

-- name: live-of-flow
SELECT id FROM flow_enrolments WHERE workspace_id = $1::int AND flow_id = $2::int AND status = 'active'
