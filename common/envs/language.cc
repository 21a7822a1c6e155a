#include "common/envs/language.h"

#include <cmath>
#include <vector>

namespace simscale::envs {

std::string DescribeTableLocation(double x, double y) {
  std::vector<std::string> parts;
  if (y > 0.07) parts.emplace_back("on the left");
  if (y < -0.07) parts.emplace_back("on the right");
  if (x < 0.42) parts.emplace_back("near the robot");
  if (x > 0.55) parts.emplace_back("far from the robot");
  if (parts.empty()) return "in the middle of the table";
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += ", " + parts[i];
  return out;
}

std::string DescribeRelativeDirection(const double from[3], const double to[3]) {
  const double dx = to[0] - from[0];
  const double dy = to[1] - from[1];
  if (std::abs(dy) >= std::abs(dx)) return dy > 0 ? "to its left" : "to its right";
  return dx > 0 ? "further from the robot" : "closer to the robot";
}

int ChooseTemplate(RandomStream* language, int count) {
  return static_cast<int>(language->UniformInt(0, count - 1));
}

}  // namespace simscale::envs
