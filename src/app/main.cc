// upgate: the server (`upgate serve`) and its admin CLI (`upgate tenants|apps|keys|sweep`).
// Every option can also come from a config file (--config, TOML or INI) or an
// environment variable (UPGATE_<OPTION>, e.g. UPGATE_LISTEN, UPGATE_DATA).

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "app/runtime.h"
#include "cli/commands.h"
#include "cli/migrate_blobs.h"
#include "cli/migrate_meta.h"
#include "core/file_modes.h"
#include "core/ids.h"
#include "core/log.h"
#include "dialects/jodoo/jodoo.h"
#include "dialects/jpush/jpush.h"
#include "dialects/kintone/kintone.h"
#include "dialects/native/native.h"
#include "dialects/openim/openim.h"
#include "http/server.h"

namespace {

using namespace up;

struct ServeOptions {
  std::vector<std::string> listen = {"127.0.0.1:8080"};
  unsigned threads = 2;
  unsigned blocking_threads = 16;
  std::string bootstrap_key;
  std::string tls_cert, tls_key;
  std::string public_url;
  uint32_t header_limit = 16 * 1024;
  long header_timeout_ms = 10'000;
  long idle_timeout_ms = 60'000;
  long shutdown_grace_ms = 15'000;
  long sweep_interval_ms = 60'000;
  long orphan_grace_ms = 3'600'000;
  bool no_access_log = false;
  std::vector<std::string> jodoo_callback_allow;
  long jodoo_callback_timeout_ms = 5000;
  std::string jodoo_upload_url;
  dialects::kintone::Options kintone;
  std::string openim_s3_prefix = "/s3";
};

// Runs the sweeper now and then until stopped; orphans are looked for less
// often (a walk over every blob), with a grace period for uploads in flight.
class SweeperThread {
 public:
  SweeperThread(core::Sweeper& sweeper, long interval_ms, long orphan_grace_ms)
      : thread_([this, &sweeper, interval_ms, orphan_grace_ms] {
          auto last_orphans = std::chrono::steady_clock::now();
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                               [this] { return stop_; })) {
            lock.unlock();
            // One process of those sharing the stores sweeps at a time; the
            // lease outlives a few passes so its holder keeps it, and a
            // crashed holder's lease runs out after that long.
            auto leased = sweeper.take_lease(3 * interval_ms);
            if (!leased) log::error("sweeper lease: " + leased.error().message);
            if (leased && *leased) {
              report(sweeper.sweep());
              if (std::chrono::steady_clock::now() - last_orphans >
                  std::chrono::milliseconds(orphan_grace_ms)) {
                report(sweeper.collect_orphans(orphan_grace_ms));
                last_orphans = std::chrono::steady_clock::now();
              }
            }
            lock.lock();
          }
        }) {}
  ~SweeperThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  static void report(const Result<core::SweepStats>& r) {
    if (!r) log::error("sweep failed: " + r.error().message);
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::string key_file_path(const app::RuntimeOptions& ropts) {
  return ropts.data_dir + "/bootstrap-key.txt";
}

// Writes a generated bootstrap key to `path`, readable by its owner only. A
// file left by an earlier generated key (whose keys were all deleted since) is
// replaced.
Status write_key_file(const std::string& path, const std::string& key) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(Errc::kStorageIo, "cannot replace " + path + ": " + std::strerror(errno));
  return core::write_secret_file(path, key + "\n");
}

// A key generated on this start, to show once (empty when none was).
struct GeneratedKey {
  std::string token;
  std::string id;
};

// The bootstrap admin key: the given one, or a generated one when the default
// tenant has no key yet. Not on a terminal, a generated key is written to
// <data>/bootstrap-key.txt: a key nobody can read must not exist.
Result<GeneratedKey> bootstrap_key(core::Services& s, const ServeOptions& o,
                                   const app::RuntimeOptions& ropts, bool stderr_is_terminal) {
  if (!o.bootstrap_key.empty()) {
    auto k = s.auth.ensure_key(core::Directory::kDefaultTenant, o.bootstrap_key, "bootstrap",
                               KeyRole::kAdmin);
    if (!k) return fail(k.error());
    return GeneratedKey{};
  }
  auto keys = s.auth.list_keys(core::Directory::kDefaultTenant);
  if (!keys) return fail(keys.error());
  if (!keys->empty()) return GeneratedKey{};
  auto k = s.auth.create_key(core::Directory::kDefaultTenant, "bootstrap", KeyRole::kAdmin);
  if (!k) return fail(k.error());
  if (!stderr_is_terminal) {
    if (auto st = write_key_file(key_file_path(ropts), k->token); !st) {
      (void)s.auth.delete_key(k->key.id);
      return fail(st.error());
    }
  }
  return GeneratedKey{k->token, k->key.id};
}

http::ServerConfig server_config(const ServeOptions& o, app::Runtime& rt) {
  core::Services& s = rt.services();
  http::ServerConfig cfg;
  cfg.listen = o.listen;
  cfg.io_threads = o.threads;
  cfg.blocking = &rt.blocking_pool();
  cfg.header_limit_bytes = o.header_limit;
  cfg.header_timeout = std::chrono::milliseconds(o.header_timeout_ms);
  cfg.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
  cfg.shutdown_grace = std::chrono::milliseconds(o.shutdown_grace_ms);
  cfg.tls_cert_file = o.tls_cert;
  cfg.tls_key_file = o.tls_key;
  cfg.access_log = !o.no_access_log;
  cfg.cors_allowed = [&s](std::string_view origin) { return s.directory.origin_allowed(origin); };
  return cfg;
}

std::vector<http::HandlerPtr> make_handlers(core::Services& s, const ServeOptions& o) {
  std::vector<http::HandlerPtr> handlers;
  handlers.push_back(dialects::jpush::make_handler(s));
  dialects::jodoo::Options jodoo;
  jodoo.callback_allow = o.jodoo_callback_allow;
  jodoo.callback_timeout = std::chrono::milliseconds(o.jodoo_callback_timeout_ms);
  jodoo.upload_url = o.jodoo_upload_url;
  handlers.push_back(dialects::jodoo::make_handler(s, std::move(jodoo)));
  handlers.push_back(dialects::kintone::make_handler(s, o.kintone));
  handlers.push_back(dialects::openim::make_handler(s, {o.openim_s3_prefix}));
  handlers.push_back(dialects::native::make_handler(s));
  return handlers;
}

// The start-up lines: where the server listens and where its bootstrap key is.
// The token itself never goes to stdout: that is the access log's stream,
// which ends up in log collectors.
void announce(const http::Server& server, const ServeOptions& o, const app::RuntimeOptions& ropts,
              const std::string& generated_key, bool stderr_is_terminal) {
  for (const auto& url : server.urls()) std::printf("upgate listening on %s\n", url.c_str());
  if (!o.bootstrap_key.empty()) {
    std::printf("bootstrap admin key (tenant \"default\"): the one given by --bootstrap-key\n");
  } else if (!generated_key.empty() && stderr_is_terminal) {
    std::fflush(stdout);
    log::notice("bootstrap admin key (tenant \"default\"): " + generated_key +
                "\n  (generated on first start; it is shown only once: keep it)\n");
  } else if (!generated_key.empty()) {
    std::printf(
        "bootstrap admin key (tenant \"default\"): generated on first start and written to %s "
        "(mode 0600), not shown; keep it elsewhere and delete the file\n",
        key_file_path(ropts).c_str());
  }
}

int serve(const app::RuntimeOptions& ropts, const ServeOptions& o) {
  // Where a generated bootstrap key may be shown: a terminal is seen by the
  // person who started the server; anything else (a file, a pipe to a log
  // collector) is not private.
  const bool stderr_is_terminal = ::isatty(STDERR_FILENO) == 1;
  // glibc gives freed memory at the top of each thread's heap back to the
  // kernel (madvise + TLB shootdown) past 128 KiB; with responses of ~80 KiB
  // (Jodoo's 100 tokens) built on the blocking threads that cost 2-3x the
  // request's CPU (bench/README.md). Keep up to 64 MiB per heap instead.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  app::RuntimeOptions runtime_options = ropts;
  runtime_options.blocking_threads = o.blocking_threads;
  auto rt = app::Runtime::open(runtime_options);
  if (!rt) {
    log::error(rt.error().message);
    return 1;
  }
  core::Services& s = (*rt)->services();

  auto generated = bootstrap_key(s, o, ropts, stderr_is_terminal);
  if (!generated) {
    log::error("bootstrap key: " + generated.error().message);
    return 1;
  }

  http::ServerConfig cfg = server_config(o, **rt);

  // Before listening, what a crash left behind goes with no grace: no upload of
  // this process is in flight yet. Only if no other process shares the stores:
  // there an unreferenced blob may be another process's upload in flight.
  if (!(*rt)->sweeper().stores_shared()) {
    if (auto swept = (*rt)->sweeper().collect_orphans(0); !swept)
      log::error("start-up sweep failed: " + swept.error().message);
  }

  http::Server server(std::move(cfg), make_handlers(s, o));
  if (auto st = server.start(); !st) {
    log::error(st.error().message);
    // A key generated for this start was never shown: drop it, so that the
    // next start (which finds the tenant without keys) makes and shows one.
    if (!generated->id.empty()) {
      (void)s.auth.delete_key(generated->id);
      ::unlink(key_file_path(ropts).c_str());
    }
    return 1;
  }
  s.public_url = o.public_url.empty() ? server.urls().front() : o.public_url;
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  announce(server, o, ropts, generated->token, stderr_is_terminal);
  std::fflush(stdout);
  {
    SweeperThread sweeper((*rt)->sweeper(), o.sweep_interval_ms, o.orphan_grace_ms);
    server.run();
  }
  std::printf("upgate stopped\n");
  return 0;
}

// `--some-flag`, also read from the environment variable UPGATE_SOME_FLAG, and
// checked by `valid` when given. Its help shows the default value, unless the
// setting is unset by default (empty).
template <class T>
CLI::Option* add_setting(CLI::App* cmd, const std::string& flag, T& value, const std::string& help,
                         const std::optional<CLI::Validator>& valid = std::nullopt) {
  std::string env = "UPGATE_";
  for (char c : flag.substr(2)) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  CLI::Option* option = cmd->add_option(flag, value, help)->envname(env);
  if (valid) option->check(*valid);
  if constexpr (requires { value.empty(); }) {
    if (value.empty()) return option;
  }
  return option->capture_default_str();
}

void add_server_options(CLI::App* cmd, ServeOptions& o, app::RuntimeOptions& ropts) {
  add_setting(cmd, "--listen", o.listen,
              "HOST:PORT to listen on (repeatable; localhost = IPv4 and IPv6)");
  add_setting(cmd, "--threads", o.threads, "I/O threads");
  add_setting(cmd, "--blocking-threads", o.blocking_threads,
              "threads for blocking work: disk, database, key checks");
  add_setting(cmd, "--bootstrap-key", o.bootstrap_key, "admin key of the default tenant to create");
  add_setting(cmd, "--tls-cert", o.tls_cert, "PEM certificate chain; enables TLS");
  add_setting(cmd, "--tls-key", o.tls_key, "PEM private key");
  add_setting(cmd, "--public-url", o.public_url,
              "base URL clients reach upgate at, for the URLs it hands out "
              "(default: the first --listen address)");
  add_setting(cmd, "--max-object-bytes", ropts.max_object_bytes,
              "largest file accepted by default");
  add_setting(cmd, "--disk-reserve-mb", ropts.disk_reserve_mb,
              "MiB of free disk that uploads never take, so deletes and sweeps can run "
              "(-1: 1% of the disk, at most 256 MiB; 0: none)",
              CLI::Range(int64_t{-1}, int64_t{1} << 40));
  add_setting(cmd, "--header-limit", o.header_limit, "bytes of request line and headers");
  add_setting(cmd, "--header-timeout-ms", o.header_timeout_ms,
              "time to receive a request's headers");
  add_setting(cmd, "--idle-timeout-ms", o.idle_timeout_ms,
              "idle time allowed between requests and body reads");
  add_setting(cmd, "--shutdown-grace-ms", o.shutdown_grace_ms,
              "time for in-flight requests at shutdown");
  add_setting(cmd, "--sweep-interval-ms", o.sweep_interval_ms,
              "how often expired files are collected", CLI::Range(100L, 86'400'000L));
  // At least a minute: a blob is briefly unreferenced between its rename and its metadata commit.
  add_setting(cmd, "--orphan-grace-ms", o.orphan_grace_ms,
              "age before an unreferenced blob is removed", CLI::Range(60'000L, 30L * 86'400'000L));
  cmd->add_flag("--no-access-log", o.no_access_log, "do not print a JSON line per request");
  cmd->add_flag("--dev-clock", ropts.dev_clock,
                "tests only: allow POST /v1/admin/clock to move time");
}

void add_dialect_options(CLI::App* cmd, ServeOptions& o) {
  add_setting(cmd, "--jodoo-callback-allow", o.jodoo_callback_allow,
              "HOST:PORT a Jodoo upload callback may reach (repeatable; none: callbacks refused)");
  add_setting(cmd, "--jodoo-callback-timeout-ms", o.jodoo_callback_timeout_ms,
              "time a Jodoo upload callback may take", CLI::Range(100L, 60'000L));
  add_setting(cmd, "--jodoo-upload-url", o.jodoo_upload_url,
              "upload URL handed out with Jodoo upload tokens (default: the public URL)");
  add_setting(cmd, "--openim-s3-prefix", o.openim_s3_prefix,
              "path prefix of the S3 POST form endpoint of OpenIM apps (<prefix>/<bucket>)")
      ->check([](const std::string& v) {
        return v.size() > 1 && v.front() == '/' && v.find_first_of("?#") == std::string::npos
                   ? std::string()
                   : std::string("must be a path below '/', e.g. /s3");
      });
  add_setting(cmd, "--kintone-tenant", o.kintone.tenant_id,
              "tenant whose users log in with X-Cybozu-Authorization");
  add_setting(
      cmd, "--kintone-basic-auth", o.kintone.basic_auth,
      "USER:PASSWORD of an Authorization: Basic layer every kintone request must also send");
  add_setting(cmd, "--kintone-upload-ttl-hours", o.kintone.upload_ttl_hours,
              "hours before a kintone upload no record attached is deleted",
              CLI::Range(1u, 24u * 365u));
  add_setting(cmd, "--kintone-max-file-bytes", o.kintone.max_file_bytes, "largest kintone upload");
}

// `upgate tenants|apps|keys|sweep ...` (src/cli). `open_services` opens the
// data directory for one command; `rc` gets its exit code.
void add_core_admin_commands(CLI::App& app,
                             const std::function<std::unique_ptr<app::Runtime>()>& open_services,
                             int& rc) {
  // The options' values; they live as long as the CLI.
  struct Args {
    std::string tenant, id, name, dialect = "native", app_id, key_id, settings;
    bool admin = false;
    long long grace = -1;
  };
  auto a = std::make_shared<Args>();

  auto* tenants = app.add_subcommand("tenants", "manage tenants")->require_subcommand(1);
  auto* tc = tenants->add_subcommand("create", "create a tenant (with its default app)");
  tc->add_option("id", a->id, "tenant id")->required();
  tc->add_option("--name", a->name, "display name");
  tc->callback([&rc, open_services, a] {
    rc = cli::tenants_create(open_services()->services(), a->id, a->name);
  });
  tenants->add_subcommand("list", "list tenants")->callback([&rc, open_services, a] {
    rc = cli::tenants_list(open_services()->services());
  });

  auto* apps = app.add_subcommand("apps", "manage apps")->require_subcommand(1);
  auto* ac = apps->add_subcommand("create", "create an app in a tenant");
  ac->add_option("id", a->id, "app id")->required();
  ac->add_option("--tenant", a->tenant, "tenant id")->required();
  ac->add_option("--name", a->name, "display name");
  ac->add_option("--dialect", a->dialect, "native, jodoo, openim, kintone or jpush")
      ->check(CLI::IsMember({"native", "jodoo", "openim", "kintone", "jpush"}))
      ->capture_default_str();
  ac->add_option("--settings", a->settings, "dialect settings as a JSON object");
  ac->callback([&rc, open_services, a] {
    rc = cli::apps_create(open_services()->services(), a->tenant, a->id, a->name, a->dialect,
                          a->settings);
  });
  auto* al = apps->add_subcommand("list", "list a tenant's apps");
  al->add_option("--tenant", a->tenant, "tenant id")->required();
  al->callback(
      [&rc, open_services, a] { rc = cli::apps_list(open_services()->services(), a->tenant); });

  auto* keys = app.add_subcommand("keys", "manage API keys")->require_subcommand(1);
  auto* kc = keys->add_subcommand("create", "create a key; its token is printed once");
  kc->add_option("--tenant", a->tenant, "tenant id")->required();
  kc->add_option("--name", a->name, "what the key is for");
  kc->add_flag("--admin", a->admin, "may manage the tenant (keys, apps)");
  kc->add_option("--app", a->app_id, "bind the key to one app");
  kc->callback([&rc, open_services, a] {
    rc = cli::keys_create(open_services()->services(), a->tenant, a->name, a->admin, a->app_id);
  });
  auto* kl = keys->add_subcommand("list", "list a tenant's keys");
  kl->add_option("--tenant", a->tenant, "tenant id")->required();
  kl->callback(
      [&rc, open_services, a] { rc = cli::keys_list(open_services()->services(), a->tenant); });
  for (const char* verb : {"enable", "disable", "delete"}) {
    auto* k = keys->add_subcommand(verb, std::string(verb) + " a key");
    k->add_option("id", a->key_id, "key id")->required();
    const std::string v = verb;
    k->callback([&rc, open_services, a, v] {
      auto rt = open_services();
      rc = v == "delete" ? cli::keys_delete(rt->services(), a->key_id)
                         : cli::keys_set_enabled(rt->services(), a->key_id, v == "enable");
    });
  }

  auto* sweep = app.add_subcommand("sweep", "collect expired and deleted files now");
  sweep
      ->add_option("--orphan-grace-ms", a->grace,
                   "also remove unreferenced blobs older than this (0 only while no server runs)")
      ->check(CLI::NonNegativeNumber);
  sweep->callback(
      [&rc, open_services, a] { rc = cli::sweep(open_services()->services(), a->grace); });
}

// `upgate migrate-meta` (src/cli/migrate_meta.h); it opens both stores itself.
void add_migrate_command(CLI::App& app, int& rc) {
  auto paths = std::make_shared<std::pair<std::string, std::string>>();
  auto* m = app.add_subcommand("migrate-meta",
                               "copy the metadata from SQLite into an empty PostgreSQL database");
  m->add_option("--from", paths->first, "sqlite:<path>, e.g. sqlite:./data/upgate.db")->required();
  m->add_option("--to", paths->second, "postgresql://user:pass@host:port/db")->required();
  m->callback([&rc, paths] {
    if (auto st = cli::migrate_meta(paths->first, paths->second); !st) rc = cli::report(st.error());
  });
}

// `upgate migrate-blobs` (src/cli/migrate_blobs.h): the metadata store of
// --data / --meta, and the two blob stores it names.
void add_migrate_blobs_command(CLI::App& app, const app::RuntimeOptions& ropts, int& rc) {
  struct Args {
    std::string from, to;
    uint64_t max_copies = 0;
    unsigned jobs = 4;
  };
  auto a = std::make_shared<Args>();
  auto* m = app.add_subcommand(
      "migrate-blobs",
      "copy the blob of every file (every blob a file row references; unreferenced ones are "
      "counted, not copied) to another blob store, verifying each SHA-256; run again to resume");
  m->add_option("--from", a->from,
                "the blob store in use: local:<dir> (e.g. local:./data) or s3://...")
      ->required();
  m->add_option("--to", a->to,
                "the new blob store: s3://bucket/prefix?endpoint=URL&... or local:<dir>")
      ->required();
  m->add_option("--max-copies", a->max_copies, "stop after copying this many blobs (0: no limit)");
  m->add_option("--jobs", a->jobs, "blobs copied at once")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  m->callback([&rc, &ropts, a] {
    if (a->from == a->to) {
      rc = cli::report(Error(Errc::kInvalidArgument, "--from and --to name the same store"));
      return;
    }
    // A thread per blob in flight for its requests, and some for parts and read-ahead.
    auto pool = core::make_thread_pool(2 * a->jobs + 2);
    auto meta = app::open_meta_store(ropts);
    if (!meta) return void(rc = cli::report(meta.error()));
    auto from = app::open_blob_store(a->from, ropts, *pool);
    if (!from)
      return void(rc = cli::report(Error(from.error().code, "--from: " + from.error().message)));
    auto to = app::open_blob_store(a->to, ropts, *pool);
    if (!to) return void(rc = cli::report(Error(to.error().code, "--to: " + to.error().message)));
    auto s = cli::migrate_blobs(**meta, **from, **to, {a->to, a->max_copies, a->jobs});
    if (!s) return void(rc = cli::report(s.error()));
    rc = s->complete && s->failed == 0 ? 0 : s->failed > 0 ? 1 : 3;
  });
}

// The S3 keys come from the environment or the config file only: on the
// command line they would show in `ps` and in shell history. CLI11 cannot
// tell where a value came from, so the command line is checked before it.
bool s3_key_on_command_line(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    for (std::string_view flag : {"--s3-access-key", "--s3-secret-key"}) {
      if (arg == flag || (arg.starts_with(flag) && arg[flag.size()] == '=')) {
        log::error(std::string(flag) +
                   " is not accepted on the command line (it would show in ps "
                   "and shell history): set " +
                   (flag == "--s3-access-key" ? "UPGATE_S3_ACCESS_KEY" : "UPGATE_S3_SECRET_KEY") +
                   " or put " + std::string(flag.substr(2)) + " in the --config file");
        return true;
      }
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever upgate creates in its data directory (the databases, SQLite's
  // -wal and -shm files, blobs, folders) holds secrets or users' files: no
  // access for others whatever umask the process was started with. Files that
  // need less (master.key: 0600) set their own modes (core/file_modes.h).
  ::umask(027);
  CLI::App app{"upgate: a self-hosted file-upload service"};
  app.require_subcommand(1);
  app.fallthrough();  // `upgate serve --data DIR` as well as `upgate --data DIR serve`
  app.set_config("--config", "", "config file (TOML or INI)");
  app::RuntimeOptions ropts;
  // Every dialect with secrets in its settings is listed here.
  ropts.secret_settings += dialects::kintone::secret_settings();
  app.add_option("--data", ropts.data_dir, "data directory (SQLite + blobs)")
      ->envname("UPGATE_DATA")
      ->capture_default_str();
  app.add_option("--meta", ropts.meta,
                 "metadata store: sqlite:<path> (default: <data>/upgate.db) or "
                 "postgresql://user:pass@host:port/db")
      ->envname("UPGATE_META");
  app.add_option("--blobs", ropts.blobs,
                 "blob store: local:<dir> (default: <data>) or "
                 "s3://bucket/prefix?endpoint=URL&region=R&path_style=true "
                 "(keys from UPGATE_S3_ACCESS_KEY / UPGATE_S3_SECRET_KEY or the config file's "
                 "s3-access-key / s3-secret-key, never from the command line)")
      ->envname("UPGATE_BLOBS");
  // Hidden (no group): settable by the config file and the environment only.
  app.add_option("--s3-access-key", ropts.s3_access_key)
      ->envname("UPGATE_S3_ACCESS_KEY")
      ->group("");
  app.add_option("--s3-secret-key", ropts.s3_secret_key)
      ->envname("UPGATE_S3_SECRET_KEY")
      ->group("");
  app.add_option("--master-key", ropts.master_key,
                 "master key file, created (0600) if missing (default: <data>/master.key); "
                 "processes sharing one database must share one key")
      ->envname("UPGATE_MASTER_KEY");
  app.add_option("--meta-pool", ropts.meta_pool_size, "PostgreSQL connections of this process")
      ->envname("UPGATE_META_POOL")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();

  ServeOptions so;
  auto* serve_cmd = app.add_subcommand("serve", "run the server");
  add_server_options(serve_cmd, so, ropts);
  add_dialect_options(serve_cmd, so);

  auto open_services = [&]() -> std::unique_ptr<app::Runtime> {
    auto rt = app::Runtime::open(ropts);
    if (!rt) {
      log::error(rt.error().message);
      std::exit(1);
    }
    return std::move(*rt);
  };

  int rc = 0;
  add_core_admin_commands(app, open_services, rc);
  add_migrate_command(app, rc);
  add_migrate_blobs_command(app, ropts, rc);

  // Each dialect with admin commands adds them here.
  const core::RunAdminCommand run_admin = [&](const core::AdminCommand& command) {
    auto out = command(open_services()->services());
    if (!out) {
      rc = cli::report(out.error());
      return;
    }
    std::printf("%s\n", out->c_str());
  };
  dialects::jodoo::add_admin_commands(app, run_admin);
  dialects::kintone::add_admin_commands(app, run_admin);
  dialects::openim::add_admin_commands(app, run_admin);

  serve_cmd->callback([&] { rc = serve(ropts, so); });

  if (s3_key_on_command_line(argc, argv)) return 2;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
