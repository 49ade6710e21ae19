/*
 * certify.hpp — the vendor certification report (`lab certify --network PROFILE`,
 * docs/vendor.md): the validation pack (scenarios/vendor/pack) run under the vendor's network
 * profile, summarised on one page — pass/fail per invariant, RTO per fault, the profile and its
 * rulesets as given, the pgaf version, the notes on what this kernel could not emulate.
 *
 * Invariants: the verdict is CERTIFIED only when every scenario of the pack passed (a skipped or
 * errored scenario makes it NOT CERTIFIED, saying which and why); every string that reaches the
 * HTML goes through xml_escape(); files are written atomically.
 */
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pgaf/lab/profile.hpp"
#include "pgaf/lab/report.hpp"

namespace pgaf::lab {

struct Certification {
  NetworkProfile profile;
  std::string pgaf_version;              /* `pg_autoctl --version` */
  std::string generated_at;              /* UTC, ISO 8601 */
  std::string command;                   /* how to reproduce */
  std::vector<std::string> notes;        /* e.g. latency skipped without netem */
  std::vector<ScenarioReport> results;   /* one per invariant scenario */
  std::vector<std::string> report_links; /* per result: relative path of its report.html */
};

bool certified(const Certification& c);
nlohmann::json certification_json(const Certification& c);
std::string render_certification_html(const Certification& c);
/* certificate.json and certificate.html in dir. */
Status write_certification(const std::string& dir, const Certification& c);

}  // namespace pgaf::lab
