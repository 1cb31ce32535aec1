-- Message search: the per-chat walk for common words stays within the chat
-- (docs/BENCHMARKS.md, "Message search").

-- New messages go to the GIN index's pending list (fastupdate), which every
-- search scans in full, once per chat searched: at the default 4 MB limit
-- a search for a rare word took 10-20x longer while messages were being
-- sent. A 256 kB list is merged into the index sooner (by the send that
-- fills it, or autovacuum) and costs a search little.
ALTER INDEX messages_search SET (gin_pending_list_limit = 256);
