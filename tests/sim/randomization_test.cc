// Domain randomization changes exactly what it reports, relative to the nominal model.
#include "common/sim/randomization.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/envs/registry.h"
#include "common/sim/assets.h"
#include "tests/support/mujoco_test.h"

namespace simscale::sim {
namespace {
using testing_support::MujocoTest;

// Which mjModel arrays differ between two models of the same structure.
std::set<std::string> ChangedFields(const mjModel* a, const mjModel* b) {
  std::set<std::string> changed;
  auto compare = [&](const char* name, const void* x, const void* y, size_t bytes) {
    if (std::memcmp(x, y, bytes) != 0) changed.insert(name);
  };
#define SIMSCALE_COMPARE(field, count) \
  compare(#field, a->field, b->field, sizeof(*a->field) * static_cast<size_t>(count))
  SIMSCALE_COMPARE(light_dir, 3 * a->nlight);
  SIMSCALE_COMPARE(light_diffuse, 3 * a->nlight);
  SIMSCALE_COMPARE(cam_pos, 3 * a->ncam);
  SIMSCALE_COMPARE(cam_fovy, a->ncam);
  SIMSCALE_COMPARE(mat_rgba, 4 * a->nmat);
  SIMSCALE_COMPARE(geom_rgba, 4 * a->ngeom);
  SIMSCALE_COMPARE(geom_friction, 3 * a->ngeom);
  SIMSCALE_COMPARE(geom_size, 3 * a->ngeom);
  SIMSCALE_COMPARE(geom_rbound, a->ngeom);
  SIMSCALE_COMPARE(body_mass, a->nbody);
  SIMSCALE_COMPARE(body_inertia, 3 * a->nbody);
  SIMSCALE_COMPARE(body_pos, 3 * a->nbody);
  SIMSCALE_COMPARE(dof_damping, a->nv);
  SIMSCALE_COMPARE(actuator_gainprm, mjNGAIN * a->nu);
  SIMSCALE_COMPARE(actuator_biasprm, mjNBIAS * a->nu);
  SIMSCALE_COMPARE(jnt_range, 2 * a->njnt);
  SIMSCALE_COMPARE(geom_pos, 3 * a->ngeom);
#undef SIMSCALE_COMPARE
  if (std::memcmp(a->opt.gravity, b->opt.gravity, sizeof(a->opt.gravity)) != 0)
    changed.insert("gravity");
  if (a->opt.timestep != b->opt.timestep) changed.insert("timestep");
  return changed;
}

// The model arrays each reported group may touch.
const std::map<std::string, std::set<std::string>>& FieldsOfGroup() {
  static const std::map<std::string, std::set<std::string>> fields = {
      {"lighting", {"light_dir", "light_diffuse"}},
      {"camera", {"cam_pos", "cam_fovy"}},
      {"materials", {"mat_rgba", "geom_rgba"}},
      {"friction", {"geom_friction"}},
      {"mass", {"body_mass", "body_inertia"}},
      {"damping", {"dof_damping"}},
      {"gains", {"actuator_gainprm", "actuator_biasprm"}},
      {"object_size", {"geom_size", "geom_rbound", "body_mass", "body_inertia"}},
      {"table", {"body_pos"}},
      {"gravity", {"gravity"}},
      {"timestep", {"timestep"}},
  };
  return fields;
}

class RandomizationTest : public MujocoTest {};

TEST_F(RandomizationTest, EachConditionChangesExactlyTheFieldsOfTheGroupsItReports) {
  const auto nominal = LoadSharedModel("pick_place.xml");
  for (const auto& condition : RandomizationConditionNames()) {
    Randomizer randomizer(nominal.get(), RandomizationCondition(condition));
    ModelPtr model(mj_copyModel(nullptr, nominal.get()));
    RandomStream stream(1, 0, StreamPurpose::kDomainRandomization);
    const auto& applied = randomizer.Apply(&stream, model.get());
    std::set<std::string> groups;
    for (const auto& value : applied) groups.insert(value.name.substr(0, value.name.find('.')));
    std::set<std::string> allowed;
    for (const auto& group : groups) {
      ASSERT_TRUE(FieldsOfGroup().count(group)) << "unknown group " << group;
      allowed.insert(FieldsOfGroup().at(group).begin(), FieldsOfGroup().at(group).end());
    }
    const std::set<std::string> changed = ChangedFields(nominal.get(), model.get());
    for (const auto& field : changed) {
      EXPECT_TRUE(allowed.count(field)) << condition << " changed " << field << " unreported";
    }
    for (const auto& group : groups) {
      bool any = false;
      for (const auto& field : FieldsOfGroup().at(group)) any = any || changed.count(field);
      EXPECT_TRUE(any) << condition << " reported " << group << " but changed nothing";
    }
    if (condition == "clean") {
      EXPECT_TRUE(applied.empty());
      EXPECT_TRUE(changed.empty());
    }
    // The reported names are the declared ones, in order.
    std::vector<std::string> names;
    for (const auto& value : applied) names.push_back(value.name);
    EXPECT_EQ(names, randomizer.ValueNames()) << condition;
  }
}

TEST_F(RandomizationTest, ValuesAreRelativeToNominalNotCumulative) {
  const auto nominal = LoadSharedModel("pick_place.xml");
  Randomizer randomizer(nominal.get(), RandomizationCondition("default"));
  ModelPtr model(mj_copyModel(nullptr, nominal.get()));
  for (uint64_t episode = 0; episode < 20; ++episode) {
    RandomStream stream(3, episode, StreamPurpose::kDomainRandomization);
    randomizer.Apply(&stream, model.get());
  }
  // Re-applying episode 0 after 20 others gives exactly episode 0's model.
  RandomStream again(3, 0, StreamPurpose::kDomainRandomization);
  randomizer.Apply(&again, model.get());
  ModelPtr fresh(mj_copyModel(nullptr, nominal.get()));
  RandomStream first(3, 0, StreamPurpose::kDomainRandomization);
  randomizer.Apply(&first, fresh.get());
  EXPECT_TRUE(ChangedFields(model.get(), fresh.get()).empty());
}

TEST_F(RandomizationTest, GainsScaleStiffnessAndDampingTogether) {
  const auto nominal = LoadSharedModel("pick_place.xml");
  Randomizer randomizer(nominal.get(), RandomizationCondition("gains"));
  ModelPtr model(mj_copyModel(nullptr, nominal.get()));
  RandomStream stream(0, 0, StreamPurpose::kDomainRandomization);
  randomizer.Apply(&stream, model.get());
  const int a = mj_name2id(model.get(), mjOBJ_ACTUATOR, "act_j2");
  const double kp = model->actuator_gainprm[mjNGAIN * a];
  const double scale = kp / nominal->actuator_gainprm[mjNGAIN * a];
  EXPECT_NE(scale, 1.0);
  // force = kp*ctrl - kp*q - kv*qdot: the equilibrium stays at q = ctrl.
  EXPECT_DOUBLE_EQ(model->actuator_biasprm[mjNBIAS * a + 1], -kp);
  EXPECT_DOUBLE_EQ(model->actuator_biasprm[mjNBIAS * a + 2],
                   nominal->actuator_biasprm[mjNBIAS * a + 2] * scale);
}

TEST_F(RandomizationTest, ObjectSizeKeepsDensityAndBoundsConsistent) {
  const auto nominal = LoadSharedModel("pick_place.xml");
  Randomizer randomizer(nominal.get(), RandomizationCondition("object_size"));
  ModelPtr model(mj_copyModel(nullptr, nominal.get()));
  RandomStream stream(0, 1, StreamPurpose::kDomainRandomization);
  const auto& applied = randomizer.Apply(&stream, model.get());
  ASSERT_EQ(applied.size(), 1u);
  const double s = applied[0].value;
  const int geom = mj_name2id(model.get(), mjOBJ_GEOM, "object_geom");
  const int body = mj_name2id(model.get(), mjOBJ_BODY, "object");
  EXPECT_DOUBLE_EQ(model->geom_size[3 * geom], nominal->geom_size[3 * geom] * s);
  EXPECT_DOUBLE_EQ(model->geom_rbound[geom], nominal->geom_rbound[geom] * s);
  EXPECT_NEAR(model->body_mass[body], nominal->body_mass[body] * s * s * s, 1e-12);
  // A box's inertia is m (a^2 + b^2) / 3 for half-sizes a, b.
  const double half = model->geom_size[3 * geom];
  EXPECT_NEAR(model->body_inertia[3 * body], model->body_mass[body] * 2 * half * half / 3, 1e-9);
}

TEST_F(RandomizationTest, TimestepChangeRecomputesSubsteps) {
  EnvOptions options;
  options.randomization = RandomizationCondition("timestep");
  auto env = envs::MakeEnv("reach", options);
  env->Reset(0, 4);
  const double dt = env->model()->opt.timestep;
  EXPECT_NE(dt, 0.002);
  EXPECT_EQ(env->substeps(), static_cast<int>(std::lround(0.05 / dt)));
}

TEST(RandomizationConditions, UnknownConditionListsTheValidOnes) {
  try {
    RandomizationCondition("extreme");
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("clean, light, default, heavy"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'extreme'"), std::string::npos);
  }
}

}  // namespace
}  // namespace simscale::sim
