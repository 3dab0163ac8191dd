-- Keyset paging of GET /v1/posts (and the dashboard's list): posts are listed by
-- (publish_at DESC, id DESC) and a page resumes with `(publish_at, id) < (cursor)`. These indexes
-- hold the whole sort key after the equality filters, so the listing is an index walk from the
-- cursor that stops after `limit` rows, whatever the page. The old (workspace_id, publish_at)
-- index is a prefix of the first one and goes.

DROP INDEX posts_workspace_publish_at;
CREATE INDEX posts_workspace_publish_at_id ON posts (workspace_id, publish_at, id);
CREATE INDEX posts_workspace_campaign_publish_at_id
    ON posts (workspace_id, campaign_id, publish_at, id);
