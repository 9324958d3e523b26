package errdefs

// Stable error codes of the wire: error.details.error_code of an HTTP error, the
// error_code of a code execution tool result's error block, and the code of an
// OutputError. Clients and models match on them, so they never change.
const (
	CodeUnavailable           = "unavailable"
	CodeExecutionTimeExceeded = "execution_time_exceeded"
	CodeContainerExpired      = "container_expired"
	CodeContainerUnavailable  = "container_unavailable"
	CodeInvalidToolInput      = "invalid_tool_input"
	CodeTooManyRequests       = "too_many_requests"
	CodeOutputFileTooLarge    = "output_file_too_large"
	CodeOutputStoreFailed     = "output_store_failed"
	CodeFileNotFound          = "file_not_found"
	CodeFileExpired           = "file_expired"
	CodeStringNotFound        = "string_not_found"
	CodeStringNotUnique       = "string_not_unique"
	CodeStorageQuotaExceeded  = "storage_quota_exceeded"
)
