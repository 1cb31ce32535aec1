-- Read and delivered markers of large groups (issue 20): each member's
-- marker, sent to every member, made one message in a group of n members
-- cost n² frames (a 1,000-member group: a million). In a group of more than
-- 100 members such an event now has an audience, the marker's owner and
-- the senders of the messages it passes (emit_marker() in
-- functions/messages.sql), and wsd sends it to the members among them.
-- Events of no chat still always have one. Re-runnable (schema/README.md).
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_chat_or_audience;
ALTER TABLE events ADD CONSTRAINT events_chat_or_audience
	CHECK ((chat_id IS NULL) = (kind IN ('user.updated', 'export.ready'))
	       AND (chat_id IS NOT NULL OR audience IS NOT NULL)
	       AND (chat_id IS NULL OR audience IS NULL OR kind IN ('read', 'delivered')));
