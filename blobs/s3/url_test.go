package s3_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/blobs/s3"
	"github.com/codebox-dev/codebox/errdefs"
)

func TestParseURL(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "awskey", "AWS_SECRET_ACCESS_KEY": "awssecret"}
	getenv := func(k string) string { return env[k] }
	o, err := s3.ParseURL("s3://bucket/some/prefix?endpoint=http://127.0.0.1:8333&region=eu-west-1", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if o.Bucket != "bucket" || o.Prefix != "some/prefix/" || o.Endpoint != "http://127.0.0.1:8333" ||
		o.Region != "eu-west-1" || !o.PathStyle || o.AccessKey != "awskey" || o.SecretKey != "awssecret" {
		t.Errorf("ParseURL = %+v", o)
	}
	// AWS itself: virtual-hosted addressing unless asked otherwise.
	if o, err := s3.ParseURL("s3://bucket", getenv); err != nil || o.PathStyle || o.Prefix != "" || o.Endpoint != "" {
		t.Errorf("ParseURL(s3://bucket) = %+v, %v", o, err)
	}
	if o, err := s3.ParseURL("s3://bucket?endpoint=https://s3.example&path_style=false", getenv); err != nil || o.PathStyle {
		t.Errorf("path_style=false: %+v, %v", o, err)
	}
	// codebox's own variables win over AWS's.
	env["CODEBOX_S3_ACCESS_KEY"], env["CODEBOX_S3_SECRET_KEY"] = "cbkey", "cbsecret"
	if o, err := s3.ParseURL("s3://bucket", getenv); err != nil || o.AccessKey != "cbkey" || o.SecretKey != "cbsecret" {
		t.Errorf("CODEBOX_S3_*: %+v, %v", o, err)
	}

	for _, bad := range []string{
		"http://bucket",
		"s3://",
		"s3:///prefix",
		"s3://key:SECRETVALUE@bucket",
		"s3://bucket?endpoint=ftp://x",
		"s3://bucket?endpoint=http://user:SECRETVALUE@host",
		"s3://bucket?regoin=x",
		"s3://bucket?path_style=maybe",
		"s3://bucket/a//b",
		"s3://bu cket/%zz?SECRETVALUE",
	} {
		_, err := s3.ParseURL(bad, getenv)
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseURL(%q) = %v, want ErrInvalid", bad, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("ParseURL(%q) error repeats the secret: %v", bad, err)
		}
	}
	if _, err := s3.ParseURL("s3://bucket", func(string) string { return "" }); !errors.Is(err, errdefs.ErrInvalid) ||
		!strings.Contains(err.Error(), "CODEBOX_S3_ACCESS_KEY") {
		t.Errorf("without credentials: %v", err)
	}
}
