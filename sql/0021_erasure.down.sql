-- Reverts 0021_erasure.
DROP TABLE erasures;
DROP TRIGGER commands_subject_forget ON commands;
DROP TRIGGER call_events_subject_forget ON call_events;
DROP TRIGGER submissions_subject_forget ON submissions;
DROP FUNCTION cb_subject_index_forget();
DROP TABLE subject_index;
