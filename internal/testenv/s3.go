package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"
)

// S3Env is a bucket of a test's own on a running S3-compatible server.
type S3Env struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
}

// URL is the bucket as codebox serve --blobs takes it, with prefix (may be "").
// Credentials are not in it: see Env.
func (e *S3Env) URL(prefix string) string {
	u := "s3://" + e.Bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u + "?endpoint=" + url.QueryEscape(e.Endpoint) + "&region=" + e.Region
}

// Env is the environment that carries the credentials to codebox (KEY=VALUE).
func (e *S3Env) Env() []string {
	return []string{"CODEBOX_S3_ACCESS_KEY=" + e.AccessKey, "CODEBOX_S3_SECRET_KEY=" + e.SecretKey}
}

// Client returns an S3 client for the server, for tests that look at the bucket
// directly.
func (e *S3Env) Client() *awss3.Client {
	return awss3.New(awss3.Options{Region: e.Region, BaseEndpoint: aws.String(e.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, "")})
}

// WeedPath is where tests find SeaweedFS's weed binary: CODEBOX_TEST_WEED, else
// weed in CODEBOX_BIN_CACHE or /var/cache/codebox/bin (where scripts/install-seaweedfs.sh
// builds it), else weed in PATH.
func WeedPath() string {
	if p := os.Getenv("CODEBOX_TEST_WEED"); p != "" {
		return p
	}
	dir := os.Getenv("CODEBOX_BIN_CACHE")
	if dir == "" {
		dir = "/var/cache/codebox/bin"
	}
	if p := filepath.Join(dir, "weed"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	return filepath.Join(dir, "weed")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var s3Server struct {
	once sync.Once
	env  S3Env // without Bucket
	err  error
}

// S3 returns a fresh, empty bucket on a SeaweedFS S3 server (weed server -s3) that the
// test binary starts at its first call, on loopback ports, in a temporary directory, and
// that stops (its directory removed) when the test binary exits, however it exits. A
// missing weed binary stops the test (see Missing).
func S3(t testing.TB) *S3Env {
	t.Helper()
	weed := WeedPath()
	if !fileExists(weed) {
		Missing(t, "needs SeaweedFS's weed at %s (scripts/install-seaweedfs.sh, make seaweedfs)", weed)
	}
	s3Server.once.Do(func() { s3Server.env, s3Server.err = startWeed(weed) })
	if s3Server.err != nil {
		t.Fatalf("start SeaweedFS: %v", s3Server.err)
	}
	env := s3Server.env
	env.Bucket = "t" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := env.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &env.Bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", env.Bucket, err)
	}
	return &env
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePorts returns n distinct loopback ports free at the time of the call.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// weedScript runs weed in the background and waits for its standard input to end: the
// test binary holds the other end of that pipe, so when it exits, for whatever reason,
// the script stops weed and removes its directory.
const weedScript = `dir=$1; shift
"$@" >"$dir/weed.log" 2>&1 &
pid=$!
echo $pid >"$dir/weed.pid"
read _
kill $pid 2>/dev/null
wait $pid
rm -rf "$dir"
`

func startWeed(weed string) (S3Env, error) {
	env := S3Env{Region: "us-east-1", AccessKey: "codebox" + randomHex(6), SecretKey: randomHex(20)}
	dir, err := os.MkdirTemp("", "codebox-weed-")
	if err != nil {
		return env, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return env, err
	}
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "codebox",
		"credentials": []any{map[string]string{"accessKey": env.AccessKey, "secretKey": env.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return env, err
	}
	p, err := freePorts(8)
	if err != nil {
		return env, err
	}
	port := func(i int) string { return strconv.Itoa(p[i]) }
	args := []string{weed, "server", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + port(0), "-master.port.grpc=" + port(1), "-master.telemetry=false",
		"-master.volumeSizeLimitMB=256", "-volume.max=0",
		"-volume.port=" + port(2), "-volume.port.grpc=" + port(3),
		"-filer", "-filer.port=" + port(4), "-filer.port.grpc=" + port(5),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port=" + port(6), "-s3.port.grpc=" + port(7), "-s3.config=" + cfgPath,
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.localSocket=" + filepath.Join(dir, "s3.sock")}
	cmd := exec.Command("sh", append([]string{"-c", weedScript, "weed-watchdog", dir}, args...)...)
	// The write end is a bare descriptor, never written nor closed, and without the
	// finalizer of an *os.File: it stays open exactly as long as this process.
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return env, err
	}
	stdin := os.NewFile(uintptr(fds[0]), "weed-watchdog")
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	stdin.Close()
	if err != nil {
		unix.Close(fds[1])
		return env, err
	}
	go cmd.Wait()
	env.Endpoint = "http://127.0.0.1:" + port(6)
	if err := waitS3(env, dir); err != nil {
		return env, err
	}
	return env, nil
}

// waitS3 waits until the server stores and deletes an object.
func waitS3(env S3Env, dir string) error {
	client := env.Client()
	bucket := "probe" + randomHex(4)
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if pid, err := os.ReadFile(filepath.Join(dir, "weed.pid")); err == nil {
			if n, _ := strconv.Atoi(strings.TrimSpace(string(pid))); n > 0 && syscall.Kill(n, 0) != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
				return fmt.Errorf("weed exited: %s", tail(log, 2000))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last = probeS3(ctx, client, bucket)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
	return fmt.Errorf("not ready after 2 minutes: %v; log: %s", last, tail(log, 2000))
}

func probeS3(ctx context.Context, client *awss3.Client, bucket string) error {
	if _, err := client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &bucket}); err != nil {
		if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
			return err
		}
	}
	key := "probe"
	if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader([]byte("ok"))}); err != nil {
		return err
	}
	_, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	return err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
