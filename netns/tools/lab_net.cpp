/*
 * lab_net.cpp — `lab-net`, a small debugging command for the lab network library.
 *
 *   lab-net probe                       what this kernel can emulate
 *   lab-net list [prefix]               namespaces in /run/netns (default prefix "pgaf-")
 *   lab-net reap <prefix> [--include-live] [--if-root]
 *                                       remove leftovers of crashed runs (--if-root: when not
 *                                       root, say so and succeed — for the ctest fixture)
 *   lab-net up <prefix> <host>... [--subnet CIDR] [--hold-ms N]
 *                                       build a network, print its plan, check TCP between the
 *                                       first two hosts, hold it N ms (bounded), tear it down
 * Exit codes follow pgaf's error table (exit_code of the error's code). Never touches anything
 * whose name does not start with "pgaf-".
 */
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "pgaf/netns/capabilities.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"

namespace {

int fail(const pgaf::Error& e) {
  std::fprintf(stderr, "lab-net: %s\n", e.to_string().c_str());
  return pgaf::exit_code(e.code);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lab-net: inspect and clean the pgaf lab network"};
  app.require_subcommand(1);

  auto* probe = app.add_subcommand("probe", "probe kernel network-fault capabilities");

  std::string list_prefix = "pgaf-";
  auto* list = app.add_subcommand("list", "list lab network namespaces");
  list->add_option("prefix", list_prefix, "name prefix");

  std::string reap_prefix;
  bool include_live = false;
  auto* reap = app.add_subcommand("reap", "remove leftovers of crashed runs");
  reap->add_option("prefix", reap_prefix, "prefix, e.g. pgaf-lab-")->required();
  reap->add_flag("--include-live", include_live, "also remove networks whose owner still runs");
  bool if_root = false;
  reap->add_flag("--if-root", if_root, "when not root, skip (exit 0) instead of failing");

  pgaf::netns::NetworkSpec spec;
  long hold_ms = 0;
  auto* up = app.add_subcommand("up", "build a network, check it, hold it, tear it down");
  up->add_option("prefix", spec.prefix, "prefix, e.g. pgaf-demo-")->required();
  up->add_option("hosts", spec.hosts, "host names")->required();
  up->add_option("--subnet", spec.subnet, "IPv4 subnet (CIDR)");
  up->add_option("--hold-ms", hold_ms, "keep the network this long (0..600000 ms)")
      ->check(CLI::Range(0L, 600000L));

  CLI11_PARSE(app, argc, argv);

  if (*probe) {
    auto caps = pgaf::netns::probe_capabilities();
    if (!caps.ok()) return fail(caps.error());
    std::fputs(caps->to_string().c_str(), stdout);
    return 0;
  }
  if (*list) {
    for (const auto& n : pgaf::netns::list_namespaces(list_prefix)) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (*reap) {
    if (if_root && ::geteuid() != 0) {
      std::printf("not root: nothing reaped\n");
      return 0;
    }
    pgaf::netns::ReapOptions o;
    o.include_live = include_live;
    auto r = pgaf::netns::reap(reap_prefix, o);
    if (!r.ok()) return fail(r.error());
    std::fputs(r->to_string().c_str(), stdout);
    return 0;
  }
  if (*up) {
    auto net = pgaf::netns::Network::create(spec);
    if (!net.ok()) return fail(net.error());
    std::printf("network %s subnet %s switch %s\n", net->prefix().c_str(), net->subnet().c_str(),
                net->switch_netns().c_str());
    for (const auto& h : net->hosts())
      std::printf("  host %-12s %-18s netns %s port %s\n", h.name.c_str(), h.cidr().c_str(),
                  h.netns.c_str(), h.switch_port.c_str());
    if (net->hosts().size() >= 2) {
      const auto& a = net->hosts()[0];
      const auto& b = net->hosts()[1];
      auto l = net->tcp_listen(b.name, 5432);
      if (!l.ok()) return fail(l.error());
      auto c = net->tcp_connect(a.name, b.address, 5432, std::chrono::milliseconds(1000));
      std::printf("tcp %s -> %s:5432: %s in %lld ms\n", a.name.c_str(), b.address.c_str(),
                  pgaf::netns::to_string(c.outcome), static_cast<long long>(c.elapsed.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
    auto st = net->destroy();
    if (!st.ok()) return fail(st.error());
    std::printf("torn down\n");
    return 0;
  }
  return 0;
}
