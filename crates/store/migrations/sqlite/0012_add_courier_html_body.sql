-- The HTML alternative of a courier message. A message is sent as multipart/alternative (text
-- and HTML) when this is set; messages queued before HTML templates existed have none and go
-- out as text only.
ALTER TABLE courier_messages ADD COLUMN html_body TEXT;  -- rendered HTML body; may hold a one-time code
