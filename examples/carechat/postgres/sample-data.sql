-- A few rows to try imports/carechat.json with (after track1.sql and track2.sql):
--   psql -f track1.sql -f track2.sql -f sample-data.sql
INSERT INTO track1.patients (patient_id, full_name, phone_number, email, preferred_language, medical_info, created_at, updated_at) VALUES
 ('6f1c2b1e-8d4a-4c1e-9a7b-1d2e3f405161', 'Amina Diallo', '+221770000001', NULL, 'fr',
  '{"conditions": ["asthma"], "allergies": [], "medications": ["salbutamol"]}', '2024-01-02 03:04:05+00', '2024-02-01 00:00:00+00'),
 ('7a2d3c4f-9e5b-4d2f-8b8c-2e3f40516272', 'Kofi Mensah', '+233240000002', 'kofi@example.org', 'en', NULL, '2024-01-03 00:00:00+00', '2024-01-03 00:00:00+00');
INSERT INTO track1.patient_logins (patient_id, logged_in_at, ip_address, user_agent) VALUES
 ('6f1c2b1e-8d4a-4c1e-9a7b-1d2e3f405161', '2024-05-01 10:00:00+00', '192.0.2.10', 'CareChat/2.1 Android');
INSERT INTO track1.feedback_sessions VALUES
 ('8b3e4d50-af6c-4e30-9c9d-3f4051627383', '6f1c2b1e-8d4a-4c1e-9a7b-1d2e3f405161', 'post_visit', 'cardiology', '2024-04-30', 4, 9, 87.50, 'completed', 'fr', '2024-05-01 00:00:00+00', '2024-05-01 01:00:00+00');
INSERT INTO track1.feedback_responses (session_id, position, question_id, question, response_type, response, rating) VALUES
 ('8b3e4d50-af6c-4e30-9c9d-3f4051627383', 1, 'q_overall', 'How was your visit overall?', 'rating', NULL, 4),
 ('8b3e4d50-af6c-4e30-9c9d-3f4051627383', 2, 'q_wait', 'How long did you wait?', 'text', 'About 20 minutes', NULL);
INSERT INTO track2.users (user_id, name, phone, email, password_hash, preferred_provider, context_retention, is_verified, last_login, created_at, updated_at) VALUES
 ('9c4f5e61-b07d-4f41-8dae-405162738494', 'Chat User', '+15550001111', 'chat@example.org', '$2b$12$abcdefghijklmnopqrstuv', 'gemini', true, true, '2024-06-01 12:00:00+00', '2024-01-05 00:00:00+00', '2024-06-01 12:00:00+00');
INSERT INTO track2.conversations VALUES
 ('ad506f72-c18e-4052-9ebf-5162738495a5', '9c4f5e61-b07d-4f41-8dae-405162738494', 'Headache', NULL, 'active', 1, 420, 812.50, '2024-06-01 12:05:00+00', '2024-06-01 12:00:00+00', '2024-06-01 12:05:00+00');
INSERT INTO track2.messages VALUES
 ('be617083-d29f-4163-afc0-62738495a6b6', 'ad506f72-c18e-4052-9ebf-5162738495a5', '9c4f5e61-b07d-4f41-8dae-405162738494', 'user', 'I have a headache', NULL, NULL, NULL, NULL, NULL,
  '{"device": "android"}', '2024-06-01 12:01:00+00');
INSERT INTO track2.message_edits (message_id, edited_at, old_content, reason) VALUES
 ('be617083-d29f-4163-afc0-62738495a6b6', '2024-06-01 12:01:30+00', 'I have a headach', 'typo');
