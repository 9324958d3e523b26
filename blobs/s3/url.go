package s3

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
)

// ParseURL reads Options from s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=BOOL]
// and the credentials from the environment (getenv): CODEBOX_S3_ACCESS_KEY and
// CODEBOX_S3_SECRET_KEY, else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN. path_style defaults to true when an endpoint is given (self-hosted
// servers), false for AWS. Credentials in the URL itself are refused, so that they never
// sit in a command line or a log; errors never repeat the URL.
func ParseURL(raw string, getenv func(string) string) (Options, error) {
	var o Options
	u, err := url.Parse(raw)
	if err != nil {
		return o, fmt.Errorf("blobs URL is not a valid URL (want s3://BUCKET[/PREFIX]?endpoint=…&region=…): %w", errdefs.ErrInvalid)
	}
	if u.Scheme != "s3" {
		return o, fmt.Errorf("blobs URL: scheme %q is not s3: %w", u.Scheme, errdefs.ErrInvalid)
	}
	if u.User != nil {
		return o, fmt.Errorf("blobs URL: credentials do not belong in the URL; set CODEBOX_S3_ACCESS_KEY and CODEBOX_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): %w", errdefs.ErrInvalid)
	}
	if u.Host == "" {
		return o, fmt.Errorf("blobs URL: no bucket (want s3://BUCKET[/PREFIX]): %w", errdefs.ErrInvalid)
	}
	o.Bucket = u.Host
	if p := strings.Trim(u.Path, "/"); p != "" {
		if strings.Contains(p, "//") {
			return o, fmt.Errorf("blobs URL: prefix %q has an empty segment: %w", p, errdefs.ErrInvalid)
		}
		o.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "path_style":
		default:
			return o, fmt.Errorf("blobs URL: unknown parameter %q (known: endpoint, region, path_style): %w", k, errdefs.ErrInvalid)
		}
	}
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || eu.User != nil {
			return o, fmt.Errorf("blobs URL: endpoint must be an http:// or https:// URL without credentials: %w", errdefs.ErrInvalid)
		}
		o.Endpoint = e
		o.PathStyle = true
	}
	o.Region = q.Get("region")
	if v := q.Get("path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("blobs URL: path_style %q is not a boolean: %w", v, errdefs.ErrInvalid)
		}
		o.PathStyle = b
	}
	if getenv("CODEBOX_S3_ACCESS_KEY") != "" || getenv("CODEBOX_S3_SECRET_KEY") != "" {
		o.AccessKey, o.SecretKey = getenv("CODEBOX_S3_ACCESS_KEY"), getenv("CODEBOX_S3_SECRET_KEY")
	} else {
		o.AccessKey, o.SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
		o.SessionToken = getenv("AWS_SESSION_TOKEN")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return o, fmt.Errorf("blobs URL: no S3 credentials: set CODEBOX_S3_ACCESS_KEY and CODEBOX_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): %w", errdefs.ErrInvalid)
	}
	return o, nil
}
