#pragma once

#include <string>

#include "common/core/random.h"

namespace simscale::envs {

// Words for where a point lies on the table, from the robot's point of view (the robot stands at
// x = 0.1 facing +x; its left is +y): "on the left, far from the robot". Empty when central.
std::string DescribeTableLocation(double x, double y);
// Direction of `to` as seen from `from` in the robot's frame: "to its left", "further away", ...
std::string DescribeRelativeDirection(const double from[3], const double to[3]);
// Picks one of `count` paraphrase templates.
int ChooseTemplate(RandomStream* language, int count);

}  // namespace simscale::envs
