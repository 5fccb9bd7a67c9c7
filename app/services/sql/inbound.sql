-- name: domain-workspaces
-- Workspaces that receive mail at this domain: a sending domain's return-path domain, or the domain of a
-- server's bounce address.
SELECT workspace_id FROM sending_domains WHERE return_path_domain = $1::text
UNION
SELECT workspace_id FROM delivery_servers WHERE lower(split_part(bounce_address, '@', 2)) = $1::text;
