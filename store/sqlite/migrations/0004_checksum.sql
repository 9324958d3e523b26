-- Uploads are checksummed with CRC-32C instead of SHA-256: the CPU computes it at many
-- GB/s, where SHA-256 capped an upload near 1 GB/s, and it still catches corrupted or
-- truncated bytes end to end. The column's values now name their algorithm
-- ("crc32c:1a2b3c4d"); rows stored before keep their SHA-256 as "sha256:<hex>".
ALTER TABLE files RENAME COLUMN sha256 TO checksum;
UPDATE files SET checksum = 'sha256:' || checksum;
