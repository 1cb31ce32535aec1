-- POST /api/files with one file: fcgi/files/upload.c (statement add_files).
-- The storage key is random, as the program's. Variables: uid, size.
SELECT jsonb_build_object('files', jsonb_agg(file_json(f) ORDER BY f.id)), array_agg(f.id)::text FROM files_add(:uid, 'upload', '{bench.bin}', ('{' || :size || '}')::bigint[], '{text/plain}', ARRAY[md5(random()::text)]) f;
