-- The rooms graph: how each participant of a room (a conversation) feels
-- about another, on a scale from -1 to 1, and the room's events (each
-- change of a relationship), for the graph stream and the room feed.
CREATE TABLE room_edges (
    room_id TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_id TEXT NOT NULL,
    sympathy DOUBLE PRECISION NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, from_id, to_id)
);

CREATE TABLE room_events (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    agent_ids TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX room_events_by_room ON room_events (room_id, created_ms);
