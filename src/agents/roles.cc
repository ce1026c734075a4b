#include "agents/roles.h"

#include <cctype>

namespace ollamaflow::agents {

namespace {

constexpr size_t kMaxRoleLength = 32;

bool is_role_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-';
}

}  // namespace

bool is_valid_role(std::string_view role) {
  if (role.empty() || role.size() > kMaxRoleLength) {
    return false;
  }
  if (!std::isalnum(static_cast<unsigned char>(role.front()))) {
    return false;
  }
  for (char c : role) {
    if (!is_role_char(c)) {
      return false;
    }
  }
  return true;
}

Status check_role(std::string_view role) {
  if (is_valid_role(role)) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                "invalid agent role \"" + std::string(role) +
                    "\": use 1 to 32 letters, digits, '_' or '-', starting with a letter or digit");
}

std::string make_agent_id(int64_t sequence) {
  return "agent-" + std::to_string(sequence);
}

std::vector<std::string> choose_roles(const std::map<std::string, int>& waiting_by_role,
                                      const std::map<std::string, int>& agents_by_role, int count,
                                      const std::string& default_role) {
  struct Candidate {
    const std::string* role;
    int waiting;
    int deficit;
  };
  std::vector<Candidate> candidates;
  for (const auto& [role, waiting] : waiting_by_role) {
    if (waiting <= 0 || !is_valid_role(role)) {
      continue;
    }
    const auto agents = agents_by_role.find(role);
    const int serving = agents == agents_by_role.end() ? 0 : agents->second;
    candidates.push_back({&role, waiting, waiting - serving});
  }

  std::vector<std::string> roles;
  roles.reserve(count > 0 ? static_cast<size_t>(count) : 0);
  for (int i = 0; i < count; ++i) {
    if (candidates.empty()) {
      roles.push_back(default_role);
      continue;
    }
    // Candidates are in name order (from the map), so the first of equal ones has the smaller
    // name.
    Candidate* best = &candidates.front();
    for (Candidate& candidate : candidates) {
      if (candidate.deficit > best->deficit ||
          (candidate.deficit == best->deficit && candidate.waiting > best->waiting)) {
        best = &candidate;
      }
    }
    roles.push_back(*best->role);
    --best->deficit;
  }
  return roles;
}

}  // namespace ollamaflow::agents
