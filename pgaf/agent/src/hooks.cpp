/*
 * hooks.cpp — state and role change hooks. See hooks.hpp for the invariants.
 */
#include "pgaf/agent/hooks.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

namespace pgaf::agent {

std::string_view role_of(NodeState s) {
  if (can_take_writes_in_state(s)) return "primary";
  switch (s) {
    case NodeState::Secondary:
    case NodeState::Catchingup:
    case NodeState::WaitStandby:
    case NodeState::JoinSecondary:
    case NodeState::ReportLsn:
    case NodeState::FastForward:
    case NodeState::PreparePromotion:
    case NodeState::StopReplication:
      return "standby";
    default:
      return "none";
  }
}

Status check_hook_program(const std::string& key, const std::string& path) {
  if (path.empty()) return Status::Ok();
  if (path.front() != '/') {
    return make_error(ErrorCode::BadConfig, "invalid value \"" + path + "\" for " + key,
                      "a hook is an absolute path to an executable program (run without a "
                      "shell)");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(ErrorCode::BadConfig,
                      "hook program \"" + path + "\" for " + key + " does not exist",
                      "give the absolute path of an executable file");
  }
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    return make_error(ErrorCode::BadConfig,
                      "hook program \"" + path + "\" for " + key + " is not an executable file",
                      "chmod +x it, or give another program");
  }
  return Status::Ok();
}

HookRunner::HookRunner(std::string on_state_change, std::string on_role_change, TimeMs timeout_ms,
                       std::unique_ptr<ProcessRunner> runner)
    : on_state_change_(std::move(on_state_change)),
      on_role_change_(std::move(on_role_change)),
      timeout_ms_(timeout_ms),
      runner_(std::move(runner)) {
  if (!on_state_change_.empty() || !on_role_change_.empty())
    worker_ = std::thread([this] { loop(); });
}

HookRunner::~HookRunner() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    stats_.dropped += static_cast<long>(queue_.size());
    queue_.clear();
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void HookRunner::on_transition(NodeState old_state, NodeState new_state, const HookNode& node) {
  if (old_state == new_state || !worker_.joinable()) return;
  std::vector<Job> jobs;
  if (!on_state_change_.empty())
    jobs.push_back({on_state_change_, "state_change", old_state, new_state, node});
  if (!on_role_change_.empty() && role_of(old_state) != role_of(new_state))
    jobs.push_back({on_role_change_, "role_change", old_state, new_state, node});
  if (jobs.empty()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& j : jobs) {
      if (queue_.size() >= kMaxPending) {
        spdlog::warn("hooks: {} hooks are waiting; dropping the oldest ({} {} -> {})",
                     queue_.size(), queue_.front().event, to_string(queue_.front().old_state),
                     to_string(queue_.front().new_state));
        queue_.pop_front();
        ++stats_.dropped;
      }
      queue_.push_back(std::move(j));
    }
  }
  cv_.notify_all();
}

bool HookRunner::wait_idle(TimeMs timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                      [this] { return queue_.empty() && !running_job_; });
}

HookRunner::Stats HookRunner::stats() {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void HookRunner::loop() {
  while (true) {
    Job j;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      j = std::move(queue_.front());
      queue_.pop_front();
      running_job_ = true;
      ++stats_.started;
    }
    run(j);
    {
      std::lock_guard<std::mutex> l(mu_);
      running_job_ = false;
    }
    cv_.notify_all();
  }
}

void HookRunner::run(const Job& j) {
  ProcessSpec spec;
  spec.program = j.program;
  spec.args = {j.event, std::string(to_string(j.old_state)), std::string(to_string(j.new_state))};
  spec.env_set = {{"PGAF_EVENT", j.event},
                  {"PGAF_OLD_STATE", std::string(to_string(j.old_state))},
                  {"PGAF_NEW_STATE", std::string(to_string(j.new_state))},
                  {"PGAF_OLD_ROLE", std::string(role_of(j.old_state))},
                  {"PGAF_NEW_ROLE", std::string(role_of(j.new_state))},
                  {"PGAF_NODE_ID", std::to_string(j.node.node_id)},
                  {"PGAF_NODE_NAME", j.node.name},
                  {"PGAF_FORMATION", j.node.formation},
                  {"PGAF_GROUP", std::to_string(j.node.group)}};
  spec.timeout_ms = timeout_ms_;
  spdlog::info("hook {}: running \"{}\" ({} -> {})", j.event, j.program, to_string(j.old_state),
               to_string(j.new_state));
  ProcessResult r = runner_->run(spec);
  std::string out = r.output;
  if (out.size() > 2000) out = "..." + out.substr(out.size() - 2000);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  std::lock_guard<std::mutex> l(mu_);
  if (r.timed_out) {
    ++stats_.killed;
    spdlog::warn("hook {}: \"{}\" did not finish within {} ms and was killed{}{}", j.event,
                 j.program, timeout_ms_, out.empty() ? "" : "; output: ", out);
  } else if (r.exit_code != 0) {
    ++stats_.failed;
    spdlog::warn("hook {}: \"{}\" failed with exit code {}{}{}", j.event, j.program, r.exit_code,
                 out.empty() ? "" : "; output: ", out);
  } else {
    ++stats_.succeeded;
    if (!out.empty()) spdlog::info("hook {}: \"{}\" said: {}", j.event, j.program, out);
  }
}

}  // namespace pgaf::agent
