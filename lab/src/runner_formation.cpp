/*
 * runner_formation.cpp — the hosts of one run (namespaces, run directory with its owner file,
 * tmpfs disks, the copy of pg_autoctl) and the formation (monitor, nodes, the lab's table,
 * number_sync_standbys) up to a stable initial state; every step bounded by stable_timeout.
 */
#include "runner_internal.hpp"

namespace pgaf::lab::runner_detail {

Status ScenarioRun::setup_hosts() {
  std::ostringstream pfx;
  pfx << "pgaf-lab-" << std::hex << (static_cast<unsigned>(::getpid()) & 0xffffu) << std::dec << "-"
      << index_ << "-";
  prefix_ = pfx.str();
  run_root_ = std::string(kLabRunRoot) + "/" + prefix_;
  std::vector<std::string> names = {"monitor"};
  for (int i = 1; i <= sc_.formation.nodes; ++i) names.push_back("node" + std::to_string(i));
  names.push_back("client");
  netns::NetworkSpec spec;
  spec.prefix = prefix_;
  spec.subnet = "198.18.0.0/24";
  spec.hosts = names;
  const NetworkProfile* profile = opt_.network  ? &*opt_.network
                                  : sc_.network ? &*sc_.network
                                                : nullptr;
  if (profile != nullptr) spec.topology = profile->topology;
  auto net = netns::Network::create(spec);
  if (!net.ok()) return net.error();
  net_ = std::move(net).value();
  if (profile != nullptr) {
    std::string where;
    for (const auto& h : net_.hosts()) where += " " + h.name + "@" + h.zone + "=" + h.address;
    log_line(sc_.name, "network profile \"" + profile->name + "\":" + where);
    for (const auto& w : net_.warnings()) log_line(sc_.name, "network profile: " + w);
  }

  auto user = netns::lookup_user(opt_.user);
  if (!user.ok()) return user.error();
  std::error_code ec;
  /* The run directory appears with its owner file already in it (made under a hidden name, then
   * renamed): another lab process that starts meanwhile reaps the directories of dead runs, and
   * took one without an owner for a dead one — it unmounted the live run's disks (lazily) and
   * removed its files, and that run's agents then saw an empty PGDATA (CI flake: the writes
   * reached a server without the lab's table). */
  const std::string staging = std::string(kLabRunRoot) + "/.staging-" + prefix_;
  fs::create_directories(staging, ec);
  if (ec)
    return make_error(ErrorCode::Internal, "could not create \"" + staging + "\": " + ec.message());
  {
    std::ofstream owner(staging + "/owner");
    owner << ::getpid() << " " << proc_start_time(::getpid()) << "\n";
    owner.close();
    if (!owner) return make_error(ErrorCode::Internal, "could not write \"" + staging + "/owner\"");
  }
  if (::rename(staging.c_str(), run_root_.c_str()) != 0)
    return make_error(ErrorCode::Internal,
                      "could not rename \"" + staging + "\" to \"" + run_root_ + "\"", {},
                      std::strerror(errno));
  /* The postgres user must be able to execute pg_autoctl whatever the permissions of the tree
   * it was built in: run a copy from the run's directory (0755 path). */
  fs::create_directories(run_root_ + "/bin", ec);
  agent_bin_ = run_root_ + "/bin/" + fs::path(opt_.pg_autoctl).filename().string();
  fs::copy_file(opt_.pg_autoctl, agent_bin_, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return make_error(ErrorCode::Internal,
                      "could not copy \"" + opt_.pg_autoctl + "\" to \"" + agent_bin_ + "\"", {},
                      ec.message());
  }
  (void)::chmod(kLabRunRoot, 0755);
  (void)::chmod(run_root_.c_str(), 0755);
  (void)::chmod((run_root_ + "/bin").c_str(), 0755);
  (void)::chmod(agent_bin_.c_str(), 0755);
  logs_dir_ = report_dir_ + "/logs";
  fs::create_directories(logs_dir_, ec);
  if (ec)
    return make_error(ErrorCode::Internal,
                      "could not create \"" + logs_dir_ + "\": " + ec.message());
  (void)::chown(logs_dir_.c_str(), user->uid, user->gid);

  int port = kBasePort;
  for (const auto& name : names) {
    auto host = net_.host(name);
    if (!host.ok()) return host.error();
    HostDirs d;
    d.name = name;
    d.address = host->address;
    d.port = port++;
    d.dir = run_root_ + "/" + name;
    d.mount = d.dir + "/disk";
    d.pgdata = d.mount + "/pgdata";
    d.home = d.dir + "/home";
    for (const auto& p : {d.dir, d.mount, d.home, d.home + "/config", d.home + "/share",
                          d.home + "/run", d.dir + "/sock"}) {
      fs::create_directories(p, ec);
      if (ec)
        return make_error(ErrorCode::Internal, "could not create \"" + p + "\": " + ec.message());
    }
    if (name != "client") {
      const std::string opts = "size=" + std::to_string(sc_.formation.node_disk_mb) +
                               "m,mode=0700,uid=" + std::to_string(user->uid) +
                               ",gid=" + std::to_string(user->gid);
      if (::mount("tmpfs", d.mount.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
        return make_error(ErrorCode::Internal, "could not mount a tmpfs on \"" + d.mount + "\"", {},
                          std::strerror(errno));
      }
    }
    for (const auto& p : {d.dir, d.mount, d.home, d.home + "/config", d.home + "/share",
                          d.home + "/run", d.dir + "/sock"}) {
      (void)::chown(p.c_str(), user->uid, user->gid);
    }
    (void)::chmod((d.home + "/run").c_str(), 0700);
    hosts_[name] = d;
  }
  return Status::Ok();
}

Status ScenarioRun::build_formation() {
  const TimeMs until = steady_ms() + sc_.formation.stable_timeout_ms;
  auto left = [&] { return std::max<TimeMs>(1000, until - steady_ms()); };
  const HostDirs& mon = dirs("monitor");
  const std::string ctl = opt_.pg_bindir + "/pg_ctl";
  log_line(sc_.name, "creating the monitor on " + mon.address + ":" + std::to_string(mon.port));
  if (Status s = run_cmd(mon,
                         {agent_bin_, "create", "monitor", "--pgdata", mon.pgdata, "--pgport",
                          std::to_string(mon.port), "--hostname", mon.address, "--auth", "trust",
                          "--no-ssl", "--pgctl", ctl},
                         "monitor-create", left());
      !s.ok())
    return s;
  for (const auto& [k, v] : sc_.formation.settings) {
    if (Status s =
            run_cmd(mon, {agent_bin_, "config", "set", "--pgdata", mon.pgdata, "pgaf." + k, v},
                    "monitor-config", left());
        !s.ok())
      return s;
  }
  /* Under a network profile the nodes live in other subnets than the monitor, whose HBA only
   * admits its own: admit every zone of the lab (its own addresses, nothing else). */
  if (net_.zones().size() > 1) {
    std::ofstream hba(mon.pgdata + "/pg_hba.conf", std::ios::app);
    for (const auto& z : net_.zones())
      hba << "host all all " << z.subnet << " trust # pgaf lab zone " << z.name << "\n";
  }
  if (Status s = start_service(mon); !s.ok()) return s;
  monitor_uri_ = "postgres://autoctl_node@" + mon.address + ":" + std::to_string(mon.port) +
                 "/pg_auto_failover?sslmode=disable";
  /* the recorder thread reports monitor_ok once it can read the node table */
  threads_.emplace_back([this] { (void)net_.run_in("monitor", [this] { monitor_loop(); }); });
  if (Status s = wait_for(
          [&] {
            std::lock_guard<std::mutex> g(rec_.mu);
            return rec_.monitor_ok;
          },
          left(), "waiting for the monitor to answer");
      !s.ok())
    return s;

  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const HostDirs& n = dirs("node" + std::to_string(i));
    const size_t k = static_cast<size_t>(i - 1);
    log_line(sc_.name, "creating " + n.name + " on " + n.address + ":" + std::to_string(n.port));
    std::vector<std::string> create = {agent_bin_,
                            "create",
                            "postgres",
                            "--pgdata",
                            n.pgdata,
                            "--pgport",
                            std::to_string(n.port),
                            "--hostname",
                            n.address,
                            "--name",
                            n.name,
                            "--monitor",
                            monitor_uri_,
                            "--auth",
                            "trust",
                            "--no-ssl",
                            "--pgctl",
                            ctl,
                            "--dbname",
                            "postgres",
                            "--candidate-priority",
                            std::to_string(sc_.formation.candidate_priorities[k]),
                            "--replication-quorum",
                            sc_.formation.replication_quorum[k] ? "true" : "false"};
    if (sc_.formation.http_endpoint) { /* a pgaf option: only when the scenario asks for it */
      create.push_back("--http-listen");
      create.push_back("127.0.0.1:" + std::to_string(kLabHttpPort));
    }
    if (Status s = run_cmd(n, std::move(create), n.name + "-create", left());
        !s.ok())
      return s;
    for (const auto& [key, v] : sc_.formation.settings) {
      if (Status s =
              run_cmd(n, {agent_bin_, "config", "set", "--pgdata", n.pgdata, "pgaf." + key, v},
                      n.name + "-config", left());
          !s.ok())
        return s;
    }
    if (Status s = start_service(n); !s.ok()) return s;
    if (i == 1) {
      if (Status s = wait_for(
              [&] {
                auto f = rec_.fsm_snapshot();
                return f.count("node1") && pgaf::can_take_writes_in_state(f["node1"].reported) &&
                       f["node1"].reported == f["node1"].goal;
              },
              left(), "waiting for node1 to become a writable primary");
          !s.ok())
        return s;
      /* allow the lab's client host in (the subnets are the lab's own), then create the table */
      {
        std::ofstream hba(n.pgdata + "/pg_hba.conf", std::ios::app);
        for (const auto& z : net_.zones())
          hba << "host all all " << z.subnet << " trust # pgaf lab clients\n";
      }
      /* the primary may still be read-only (its agent fences until it holds a lease): retry */
      Status setup = Status::Ok();
      const TimeMs setup_until = steady_ms() + left();
      bool reloaded = false;
      while (true) {
        setup = net_.run_in(n.name, [&] {
          auto c = PgConn::connect(
              "host=127.0.0.1 port=" + std::to_string(n.port) +
              " user=postgres dbname=postgres connect_timeout=5 application_name=lab-setup");
          if (!c.ok()) throw std::runtime_error(c.error().message);
          if (!reloaded) {
            auto r = c->query("select pg_reload_conf()", 5000);
            if (!r.ok()) throw std::runtime_error(r.error().message);
            reloaded = true;
          }
          auto r = c->query(
              "create table if not exists lab_writes (value bigint primary key, client int not "
              "null, "
              "at timestamptz not null default clock_timestamp())",
              10000);
          if (!r.ok()) throw std::runtime_error(r.error().message);
        });
        if (setup.ok() || expired() || steady_ms() >= setup_until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (!setup.ok()) return setup;
    } else {
      const std::string name = n.name;
      if (Status s = wait_for(
              [&] {
                auto f = rec_.fsm_snapshot();
                return f.count(name) && f[name].reported == "secondary" &&
                       f[name].goal == "secondary";
              },
              left(), "waiting for " + name + " to become a secondary");
          !s.ok())
        return s;
    }
  }
  if (sc_.formation.number_sync_standbys != 0) {
    /* the monitor's SQL API (pgautofailover.set_formation_number_sync_standbys), as the agents use
     * it */
    const std::string n = std::to_string(sc_.formation.number_sync_standbys);
    Status s = net_.run_in("monitor", [&] {
      auto c = PgConn::connect("host=127.0.0.1 port=" + std::to_string(mon.port) +
                               " user=autoctl_node dbname=pg_auto_failover connect_timeout=5 "
                               "application_name=lab-setup");
      if (!c.ok()) throw std::runtime_error(c.error().message);
      auto r =
          c->query("select pgautofailover.set_formation_number_sync_standbys('default', $1::int)",
                   10000, {n});
      if (!r.ok()) throw std::runtime_error(r.error().message);
    });
    if (!s.ok()) return s;
    log_line(sc_.name, "number_sync_standbys set to " + n);
  }
  std::map<std::string, int> initial = {{"primary", 1}};
  if (sc_.formation.nodes > 1)
    initial["secondary"] = sc_.formation.nodes - 1;
  else
    initial = {{"single", 1}};
  if (Status s = wait_for(
          [&] {
            auto f = rec_.fsm_snapshot();
            if (static_cast<int>(f.size()) != sc_.formation.nodes) return false;
            std::map<std::string, int> counts;
            for (const auto& [n, fs] : f) {
              if (fs.reported != fs.goal) return false;
              counts[fs.reported]++;
            }
            return counts == initial;
          },
          left(), "waiting for the formation to be stable");
      !s.ok())
    return s;
  for (const auto& [n, s] : rec_.fsm_snapshot()) {
    if (pgaf::can_take_writes_in_state(s.reported)) rec_.h.initial_primary = n;
  }
  std::string uri = "postgresql://";
  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const HostDirs& n = dirs("node" + std::to_string(i));
    uri += (i > 1 ? "," : "") + n.address + ":" + std::to_string(n.port);
  }
  const TimeMs ct = std::max<TimeMs>(2, sc_.workload.connect_timeout_ms / 1000);
  uri += "/postgres?user=postgres&target_session_attrs=read-write&connect_timeout=" +
         std::to_string(ct) + "&options=-c%20synchronous_commit%3D" +
         to_string(sc_.formation.synchronous_commit);
  formation_uri_ = uri;
  return Status::Ok();
}

}  // namespace pgaf::lab::runner_detail
