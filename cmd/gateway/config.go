package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"erpgate/gateway"
	"erpgate/internal/instance"
	"erpgate/internal/partition"
	"erpgate/notice"
	"erpgate/store"
	"erpgate/tracking"
)

// options are the command line and environment settings.
type options struct {
	listen             string
	erpsimListen       string
	publicURL          string
	redisURL           string
	erpV1URL           string
	erpV2URL           string
	configFile         string
	allowVolatileRedis bool
	logLevel           string
	logFormat          string
	erpTimeout         time.Duration
	shutdownTimeout    time.Duration
	consumers          int
	partitions         int
	redisWaitReplicas  int
	redisWaitTimeout   time.Duration
	erpInFlight        int
	erpBackoffMax      time.Duration
	erpBreakerOpen     time.Duration
	erpMaxDeliveries   int64
	erpReclaimIdle     time.Duration
	trackingCacheMiB   int
	redisPipelines     int
	noticeLeadTime     time.Duration

	// Release management (issue 15): --version, this instance's identity
	// in the instance registry, the manifest of this build, the key the
	// release library trusts.
	showVersion      bool
	manifestFile     string
	releasePublicKey string
	boundAddr        string           // the address the gateway listens on (set by run, not a flag)
	hardening        hardeningOptions // hardening.go
	instanceID       string
	instanceTTL      time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	o := &options{}
	fs.StringVar(&o.listen, "listen", env("ERPGATE_LISTEN", "127.0.0.1:8080"), "gateway listen address (port 0 picks a free port) [ERPGATE_LISTEN]")
	fs.StringVar(&o.erpsimListen, "erpsim-listen", env("ERPGATE_ERPSIM_LISTEN", "127.0.0.1:8090"), "listen address of the embedded ERP simulator, used when no ERP URL is given [ERPGATE_ERPSIM_LISTEN]")
	fs.StringVar(&o.publicURL, "public-url", env("ERPGATE_PUBLIC_URL", ""), "base URL customers reach the gateway at, for tracking links (default http://<listen address>) [ERPGATE_PUBLIC_URL]")
	fs.StringVar(&o.redisURL, "redis-url", env("REDIS_URL", ""), "Redis URL (redis://host:port/db, rediss://…, redis+sentinel://h1:p1,h2:p2/master, redis+cluster://h1:p1,h2:p2); empty = embedded in-memory Redis, NOT durable [REDIS_URL]")
	fs.StringVar(&o.erpV1URL, "erp-v1-url", env("ERPGATE_ERP_V1_URL", ""), "SOAP endpoint of ERP interface v1 (old release); empty = embedded simulator [ERPGATE_ERP_V1_URL]")
	fs.StringVar(&o.erpV2URL, "erp-v2-url", env("ERPGATE_ERP_V2_URL", ""), "SOAP endpoint of ERP interface v2 (new WebServices); empty = embedded simulator [ERPGATE_ERP_V2_URL]")
	fs.StringVar(&o.configFile, "config", env("ERPGATE_CONFIG", ""), "JSON config file with clients (API key hashes) and webhooks; empty = demo credentials [ERPGATE_CONFIG]")
	fs.BoolVar(&o.allowVolatileRedis, "allow-volatile-redis", env("ERPGATE_ALLOW_VOLATILE_REDIS", "") == "1", "run on a Redis without AOF persistence (a 202 is then NOT durable) [ERPGATE_ALLOW_VOLATILE_REDIS=1]")
	fs.StringVar(&o.logLevel, "log-level", env("ERPGATE_LOG_LEVEL", "info"), "debug, info, warn or error [ERPGATE_LOG_LEVEL]")
	fs.StringVar(&o.logFormat, "log-format", env("ERPGATE_LOG_FORMAT", "text"), "text or json [ERPGATE_LOG_FORMAT]")
	fs.DurationVar(&o.erpTimeout, "erp-timeout", 5*time.Second, "deadline of one ERP call")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fs.IntVar(&o.partitions, "partitions", partitionsDefault(getenv), "partitions the orders and their streams are spread over (hash tags for Redis Cluster); recorded in Redis at first start, a different number is refused; 1 with the embedded Redis unless given [ERPGATE_PARTITIONS]")
	fs.IntVar(&o.consumers, "consumers", 4, "outbox consumers per ERP target in this instance")
	fs.IntVar(&o.erpInFlight, "erp-in-flight", 16, "ERP calls one consumer has in flight at once (from its fetched batch, started in outbox order)")
	fs.DurationVar(&o.erpBackoffMax, "erp-backoff-max", time.Minute, "longest wait between two deliveries of one message after transient ERP failures")
	fs.DurationVar(&o.erpBreakerOpen, "erp-breaker-open", 30*time.Second, "how long a target's circuit breaker stays open before it probes the ERP again")
	fs.DurationVar(&o.erpReclaimIdle, "erp-reclaim-idle", 2*time.Minute, "a message pending this long belongs to a dead worker and is taken over (keep it above --erp-timeout)")
	fs.IntVar(&o.trackingCacheMiB, "tracking-cache-mib", 32, "memory for cached tracking answers, invalidated by the timeline feed; 0 reads Redis for every tracking request")
	fs.IntVar(&o.redisPipelines, "redis-pipelines", store.DefaultPipelines, "pipelines of concurrent Redis commands in flight at once (automatic pipelining); 0 sends every command on its own")
	fs.StringVar(&o.instanceID, "instance-id", env("ERPGATE_INSTANCE_ID", instance.Default()), "this instance's stable identity: its stream consumers are named after it, so a restart takes over its own pending entries at once; two live instances must never share one (default: the host name) [ERPGATE_INSTANCE_ID]")
	fs.DurationVar(&o.instanceTTL, "instance-ttl", store.DefaultInstanceTTL, "an instance that has not heartbeated for this long is dead and other instances take over its pending entries")
	fs.Int64Var(&o.erpMaxDeliveries, "erp-max-deliveries", 10, "deliveries of one message before it moves to the dead-letter stream")
	fs.DurationVar(&o.noticeLeadTime, "notice-lead-time", notice.DefaultLeadTime, "how long before its window a maintenance notice for customers shows as a banner on tracking pages")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and commit and exit")
	fs.StringVar(&o.manifestFile, "manifest", env("ERPGATE_MANIFEST", ""), "the signed release manifest of this build; checked at start, its digest is registered with the instance [ERPGATE_MANIFEST]")
	fs.StringVar(&o.releasePublicKey, "release-public-key", env("ERPGATE_RELEASE_PUBLIC_KEY", ""), "PEM ed25519 public key: the release library accepts only manifests signed by it (default: any valid signature) [ERPGATE_RELEASE_PUBLIC_KEY]")
	fs.IntVar(&o.redisWaitReplicas, "redis-wait-replicas", intEnv(getenv, "ERPGATE_REDIS_WAIT_REPLICAS", 0), "an accept answers 202 only once this many Redis replicas hold it (WAIT); fewer in time: 503 outcome_unknown, safe to retry [ERPGATE_REDIS_WAIT_REPLICAS]")
	fs.DurationVar(&o.redisWaitTimeout, "redis-wait-timeout", 500*time.Millisecond, "how long an accept waits for --redis-wait-replicas (at most 2s) [ERPGATE_REDIS_WAIT_TIMEOUT]")
	if v := getenv("ERPGATE_REDIS_WAIT_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			o.redisWaitTimeout = d
		}
	}
	addHardeningFlags(fs, env, &o.hardening) // hardening.go
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, flagHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (subcommands: release, cmdb, deadletters, migrate-layout)", fs.Arg(0))
	}
	// The embedded Redis is one process that cannot be a cluster, and its
	// stream readers poll (embeddedFeedPoll): one partition unless asked.
	// Measured idle, 4 readers per partition polling every 50 ms: 5 % of a
	// core with 1 partition, 12 % with 4, 26–31 % with 16 (docs/operators.md).
	if o.redisURL == "" && getenv("ERPGATE_PARTITIONS") == "" && !flagSet(fs, "partitions") {
		o.partitions = embeddedPartitions
	}
	if _, err := partition.New(o.partitions); err != nil {
		return nil, errors.New("--partitions must be between 1 and " + strconv.Itoa(partition.Max))
	}
	if o.redisWaitReplicas < 0 || o.redisWaitReplicas > 16 {
		return nil, errors.New("--redis-wait-replicas must be between 0 and 16")
	}
	// The WAIT travels in one pipeline with the accept, which the client
	// reads with its 3s read timeout: the wait must end well before.
	if o.redisWaitTimeout <= 0 || o.redisWaitTimeout > 2*time.Second {
		return nil, errors.New("--redis-wait-timeout must be above 0 and at most 2s")
	}
	if o.consumers < 1 || o.consumers > 256 {
		return nil, errors.New("--consumers must be between 1 and 256")
	}
	if o.erpInFlight < 1 || o.erpInFlight > 256 {
		return nil, errors.New("--erp-in-flight must be between 1 and 256")
	}
	if err := instance.Validate(o.instanceID); err != nil {
		return nil, fmt.Errorf("--instance-id %q: %w", o.instanceID, err)
	}
	if o.instanceTTL < 500*time.Millisecond {
		return nil, errors.New("--instance-ttl must be at least 500ms")
	}
	// A live worker re-asserts its hold on a slow batch, and a deferred
	// entry waits at most --erp-backoff-max: only an entry idle longer than
	// both can belong to a dead worker (erp.DispatcherConfig.Validate).
	if o.erpReclaimIdle <= o.erpBackoffMax || o.erpReclaimIdle < 2*o.erpTimeout {
		return nil, fmt.Errorf("--erp-reclaim-idle %v must exceed --erp-backoff-max %v and be at least twice --erp-timeout %v: an entry waiting out its backoff, or in a live worker's slow call, would be taken as a dead worker's and delivered twice at once",
			o.erpReclaimIdle, o.erpBackoffMax, o.erpTimeout)
	}
	if o.trackingCacheMiB < 0 || o.trackingCacheMiB > 4096 {
		return nil, errors.New("--tracking-cache-mib must be between 0 and 4096")
	}
	if o.noticeLeadTime <= 0 || o.noticeLeadTime > notice.MaxAhead {
		return nil, errors.New("--notice-lead-time must be above 0 and at most a year (8784h)")
	}
	if err := o.hardening.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// flagHelp reports that -h was asked for and usage is printed.
var flagHelp = flag.ErrHelp

// fileConfig is the JSON config file.
type fileConfig struct {
	Clients  []gateway.Client        `json:"clients"`
	Webhooks []tracking.Subscription `json:"webhooks,omitempty"`
}

func loadConfig(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(fc.Clients) == 0 {
		return nil, fmt.Errorf("config %s: no clients: nobody could call the gateway", path)
	}
	return &fc, nil
}

// intEnv is the environment variable name as a number, def when unset,
// and -1 when malformed (the range check then names the flag).
func intEnv(getenv func(string) string, name string, def int) int {
	if v := getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1
	}
	return def
}

// embeddedPartitions is the partition count of the embedded Redis when
// none is given.
const embeddedPartitions = 1

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// partitionsDefault is ERPGATE_PARTITIONS when it is a number, else
// partition.Default (a malformed value then fails as a flag would: the
// range check names --partitions).
func partitionsDefault(getenv func(string) string) int {
	if v := getenv("ERPGATE_PARTITIONS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1
	}
	return partition.Default
}
