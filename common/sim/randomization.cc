#include "common/sim/randomization.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale::sim {
namespace {

double Draw(RandomStream* stream, ScaleRange range) {
  return range.low + (range.high - range.low) * stream->Uniform();
}
double Symmetric(RandomStream* stream, double half_width) {
  return half_width * (2.0 * stream->Uniform() - 1.0);
}

template <typename T>
void CopyArray(T* destination, const T* source, int count) {
  std::memcpy(destination, source, sizeof(T) * static_cast<size_t>(count));
}

bool NameStartsWith(const mjModel* model, mjtObj type, int id, const char* prefix) {
  const char* name = mj_id2name(model, type, id);
  return name != nullptr && std::strncmp(name, prefix, std::strlen(prefix)) == 0;
}

}  // namespace

bool RandomizationConfig::any() const {
  return lighting || camera || materials || friction || mass || damping || gains || object_size ||
         table || gravity || timestep;
}

std::vector<std::string> RandomizationConditionNames() {
  return {"clean",       "light",    "default", "heavy",  "friction",  "mass",  "damping", "gains",
          "object_size", "lighting", "gravity", "camera", "materials", "table", "timestep"};
}

// long function: the table of presets and single-parameter switches, kept in one place so
// the conditions can be compared side by side.
RandomizationConfig RandomizationCondition(const std::string& name) {
  RandomizationConfig c;  // clean: nothing enabled
  if (name == "clean") return c;
  if (name == "light") {
    c.lighting = true;
    c.light_direction_noise = 0.5;
    c.materials = true;
    c.color_noise = 0.05;
    c.friction = true;
    c.friction_scale = {0.9, 1.1};
    c.mass = true;
    c.mass_scale = {0.8, 1.2};
    return c;
  }
  if (name == "default") {
    c.lighting = c.camera = c.materials = c.friction = c.mass = c.damping = c.gains = true;
    c.object_size = true;
    return c;
  }
  if (name == "heavy") {
    c.lighting = c.camera = c.materials = c.friction = c.mass = c.damping = c.gains = true;
    c.object_size = c.gravity = true;
    c.light_direction_noise = 2.0;
    c.light_diffuse_scale = {0.125, 1.25};
    c.camera_position_noise = 0.1;
    c.camera_fovy_noise = 20.0;
    c.color_noise = 0.3;
    c.friction_scale = {0.4, 2.0};
    c.mass_scale = {0.3, 3.0};
    c.damping_scale = {0.5, 2.0};
    c.gain_scale = {0.5, 2.0};
    // The original used (0.5, 2.0); a 2x cube (8 cm) no longer fits the 8 cm gripper opening.
    c.size_scale = {0.5, 1.75};
    c.gravity_noise = 1.0;
    return c;
  }
  // Single-parameter ablations: clean plus one group.
  if (name == "friction") {
    c.friction = true;
    c.friction_scale = {0.5, 1.5};
    return c;
  }
  if (name == "mass") {
    c.mass = true;
    c.mass_scale = {0.5, 2.0};
    return c;
  }
  if (name == "damping") {
    c.damping = true;
    c.damping_scale = {0.6, 1.5};
    return c;
  }
  if (name == "gains") {
    c.gains = true;
    c.gain_scale = {0.6, 1.5};
    return c;
  }
  if (name == "object_size") {
    c.object_size = true;
    c.size_scale = {0.6, 1.5};
    return c;
  }
  if (name == "lighting") {
    c.lighting = true;
    c.light_direction_noise = 1.5;
    return c;
  }
  if (name == "gravity") {
    c.gravity = true;
    c.gravity_noise = 1.0;
    return c;
  }
  if (name == "camera") {
    c.camera = true;
    return c;
  }
  if (name == "materials") {
    c.materials = true;
    return c;
  }
  if (name == "table") {
    c.table = true;
    return c;
  }
  if (name == "timestep") {
    c.timestep = true;
    return c;
  }
  std::string valid;
  for (const auto& n : RandomizationConditionNames()) valid += (valid.empty() ? "" : ", ") + n;
  throw InvalidArgumentError(
      fmt::format("domain randomization condition: expected one of {{{}}}, got '{}'", valid, name));
}

Randomizer::Randomizer(const mjModel* nominal, RandomizationConfig config)
    : nominal_(nominal), config_(config) {
  for (int b = 1; b < nominal->nbody; ++b) {
    const int joint = nominal->body_jntadr[b];
    if (nominal->body_jntnum[b] == 1 && nominal->jnt_type[joint] == mjJNT_FREE) {
      object_bodies_.push_back(b);
    }
    if (NameStartsWith(nominal, mjOBJ_BODY, b, "table")) table_body_ = b;
  }
  for (int g = 0; g < nominal->ngeom; ++g) {
    const int body = nominal->geom_bodyid[g];
    if (std::find(object_bodies_.begin(), object_bodies_.end(), body) != object_bodies_.end()) {
      object_geoms_.push_back(g);
    } else if (NameStartsWith(nominal, mjOBJ_BODY, body, "finger")) {
      finger_geoms_.push_back(g);
    } else if (body == table_body_) {
      table_geoms_.push_back(g);
    }
  }
  for (int j = 0; j < nominal->njnt; ++j) {
    if (nominal->jnt_type[j] == mjJNT_FREE) continue;
    std::vector<int>& group =
        NameStartsWith(nominal, mjOBJ_JOINT, j, "finger") ? finger_dofs_ : arm_dofs_;
    group.push_back(nominal->jnt_dofadr[j]);
  }
  for (int a = 0; a < nominal->nu; ++a) {
    (NameStartsWith(nominal, mjOBJ_ACTUATOR, a, "act_finger") ? gripper_actuators_ : arm_actuators_)
        .push_back(a);
  }
}

std::vector<std::string> Randomizer::ValueNames() const {
  std::vector<std::string> names;
  const RandomizationConfig& c = config_;
  const bool has_object = !object_bodies_.empty();
  if (c.lighting && nominal_->nlight > 0) {
    for (const char* n : {"lighting.diffuse_scale", "lighting.direction_dx",
                          "lighting.direction_dy", "lighting.direction_dz"}) {
      names.emplace_back(n);
    }
  }
  if (c.camera && nominal_->ncam > 0) {
    for (const char* n : {"camera.dx", "camera.dy", "camera.dz", "camera.fovy_delta"}) {
      names.emplace_back(n);
    }
  }
  if (c.materials) names.emplace_back("materials.mean_abs_shift");
  if (c.friction) {
    if (has_object) names.emplace_back("friction.object");
    if (!finger_geoms_.empty()) names.emplace_back("friction.fingers");
    if (!table_geoms_.empty()) names.emplace_back("friction.table");
  }
  if (c.damping) {
    names.emplace_back("damping.arm");
    if (!finger_dofs_.empty()) names.emplace_back("damping.fingers");
  }
  if (c.gains) {
    names.emplace_back("gains.arm");
    if (!gripper_actuators_.empty()) names.emplace_back("gains.gripper");
  }
  if (c.mass && has_object) names.emplace_back("mass.object");
  if (c.object_size && has_object) names.emplace_back("object_size.scale");
  if (c.table && table_body_ >= 0) {
    names.emplace_back("table.dx");
    names.emplace_back("table.dy");
  }
  if (c.gravity) names.emplace_back("gravity.z");
  if (c.timestep) names.emplace_back("timestep");
  return names;
}

void Randomizer::RestoreNominal(mjModel* m) const {
  const mjModel* n = nominal_;
  CopyArray(m->light_dir, n->light_dir, 3 * n->nlight);
  CopyArray(m->light_diffuse, n->light_diffuse, 3 * n->nlight);
  CopyArray(m->cam_pos, n->cam_pos, 3 * n->ncam);
  CopyArray(m->cam_fovy, n->cam_fovy, n->ncam);
  CopyArray(m->mat_rgba, n->mat_rgba, 4 * n->nmat);
  CopyArray(m->geom_rgba, n->geom_rgba, 4 * n->ngeom);
  CopyArray(m->geom_friction, n->geom_friction, 3 * n->ngeom);
  CopyArray(m->geom_size, n->geom_size, 3 * n->ngeom);
  CopyArray(m->geom_rbound, n->geom_rbound, n->ngeom);
  CopyArray(m->body_mass, n->body_mass, n->nbody);
  CopyArray(m->body_inertia, n->body_inertia, 3 * n->nbody);
  CopyArray(m->body_pos, n->body_pos, 3 * n->nbody);
  CopyArray(m->dof_damping, n->dof_damping, n->nv);
  CopyArray(m->actuator_gainprm, n->actuator_gainprm, mjNGAIN * n->nu);
  CopyArray(m->actuator_biasprm, n->actuator_biasprm, mjNBIAS * n->nu);
  CopyArray(m->opt.gravity, n->opt.gravity, 3);
  m->opt.timestep = n->opt.timestep;
}

// The groups draw in a fixed order, each drawing its values whether or not it is enabled, so a
// parameter gets the same value under every condition that enables it.
const std::vector<AppliedValue>& Randomizer::Apply(RandomStream* stream, mjModel* m) {
  RestoreNominal(m);
  applied_.clear();
  ApplyLighting(stream, m);
  ApplyCameras(stream, m);
  ApplyMaterials(stream, m);
  ApplyFriction(stream, m);
  // Mass (drawn here) and object size (drawn after the gains) share body_mass/body_inertia.
  const double mass_scale = Draw(stream, config_.mass_scale);
  ApplyDamping(stream, m);
  ApplyGains(stream, m);
  ApplyMassAndSize(stream, mass_scale, m);
  ApplyTable(stream, m);
  ApplyGravity(stream, m);
  ApplyTimestep(stream, m);
  return applied_;
}

void Randomizer::Report(const char* name, double value) { applied_.push_back({name, value}); }

// 1. Lighting: one diffuse scale and one direction offset for every light.
void Randomizer::ApplyLighting(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double diffuse = Draw(stream, c.light_diffuse_scale);
  double offset[3];
  for (double& o : offset) o = Symmetric(stream, c.light_direction_noise);
  if (c.lighting && n->nlight > 0) {
    for (int l = 0; l < n->nlight; ++l) {
      double dir[3];
      for (int k = 0; k < 3; ++k) dir[k] = n->light_dir[3 * l + k] + offset[k];
      dir[2] = std::min(dir[2], -0.1);  // keep lights pointing down at the scene
      const double norm = std::sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
      for (int k = 0; k < 3; ++k) {
        m->light_dir[3 * l + k] = dir[k] / norm;
        m->light_diffuse[3 * l + k] =
            static_cast<float>(std::clamp(n->light_diffuse[3 * l + k] * diffuse, 0.0, 1.0));
      }
    }
    Report("lighting.diffuse_scale", diffuse);
    Report("lighting.direction_dx", offset[0]);
    Report("lighting.direction_dy", offset[1]);
    Report("lighting.direction_dz", offset[2]);
  }
}

// 2. Cameras: one position offset and one fovy change for every camera. The fovy change is
// drawn for a 60-degree camera and scaled to each camera's nominal fovy (the narrow agent view
// zooms as much as a wide camera would, instead of losing half its field); a camera mounted on a
// moving body (the wrist) moves a fifth as far, since it sits a few centimetres from what it
// looks at.
void Randomizer::ApplyCameras(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  constexpr double kReferenceFovy = 60.0;
  constexpr double kMountedShare = 0.2;
  double offset[3];
  for (double& o : offset) o = Symmetric(stream, c.camera_position_noise);
  const double fovy = Symmetric(stream, c.camera_fovy_noise);
  if (c.camera && n->ncam > 0) {
    for (int cam = 0; cam < n->ncam; ++cam) {
      const double share = n->cam_bodyid[cam] == 0 ? 1.0 : kMountedShare;
      for (int k = 0; k < 3; ++k) {
        m->cam_pos[3 * cam + k] = n->cam_pos[3 * cam + k] + share * offset[k];
      }
      const double scaled = fovy * n->cam_fovy[cam] / kReferenceFovy;
      m->cam_fovy[cam] = std::clamp(n->cam_fovy[cam] + scaled, 5.0, 160.0);
    }
    Report("camera.dx", offset[0]);
    Report("camera.dy", offset[1]);
    Report("camera.dz", offset[2]);
    Report("camera.fovy_delta", fovy);
  }
}

// 3. Materials and material-less geom colours: independent noise per channel, alpha kept.
void Randomizer::ApplyMaterials(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  double total_shift = 0.0;
  int channels = 0;
  auto perturb = [&](float* rgba, const float* nominal) {
    for (int k = 0; k < 3; ++k) {
      const double shifted = std::clamp(nominal[k] + Symmetric(stream, c.color_noise), 0.0, 1.0);
      if (c.materials) {
        total_shift += std::abs(shifted - nominal[k]);
        ++channels;
        rgba[k] = static_cast<float>(shifted);
      }
    }
  };
  for (int mat = 0; mat < n->nmat; ++mat) perturb(m->mat_rgba + 4 * mat, n->mat_rgba + 4 * mat);
  for (int g = 0; g < n->ngeom; ++g) {
    if (n->geom_matid[g] < 0) perturb(m->geom_rgba + 4 * g, n->geom_rgba + 4 * g);
  }
  if (c.materials) Report("materials.mean_abs_shift", channels > 0 ? total_shift / channels : 0);
}

// 4. Friction: one scale each for the object, the finger pads and the table (all components).
void Randomizer::ApplyFriction(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double object = Draw(stream, c.friction_scale);
  const double fingers = Draw(stream, c.friction_scale);
  const double table = Draw(stream, c.friction_scale);
  if (c.friction) {
    auto scale = [&](const std::vector<int>& geoms, double s) {
      for (int g : geoms) {
        for (int k = 0; k < 3; ++k) m->geom_friction[3 * g + k] = n->geom_friction[3 * g + k] * s;
      }
    };
    scale(object_geoms_, object);
    scale(finger_geoms_, fingers);
    scale(table_geoms_, table);
    if (!object_geoms_.empty()) Report("friction.object", object);
    if (!finger_geoms_.empty()) Report("friction.fingers", fingers);
    if (!table_geoms_.empty()) Report("friction.table", table);
  }
}

// 6. Damping, indexed by DOF.
void Randomizer::ApplyDamping(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double arm = Draw(stream, c.damping_scale);
  const double fingers = Draw(stream, c.damping_scale);
  if (c.damping) {
    for (int dof : arm_dofs_) m->dof_damping[dof] = n->dof_damping[dof] * arm;
    for (int dof : finger_dofs_) m->dof_damping[dof] = n->dof_damping[dof] * fingers;
    Report("damping.arm", arm);
    if (!finger_dofs_.empty()) Report("damping.fingers", fingers);
  }
}

// 7. Gains: kp (gainprm[0], -biasprm[1]) and kv (-biasprm[2]) scaled together, so the servo's
// equilibrium stays at ctrl and only its stiffness and damping change.
void Randomizer::ApplyGains(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double arm = Draw(stream, c.gain_scale);
  const double gripper = Draw(stream, c.gain_scale);
  if (c.gains) {
    auto scale = [&](const std::vector<int>& actuators, double s) {
      for (int a : actuators) {
        m->actuator_gainprm[mjNGAIN * a] = n->actuator_gainprm[mjNGAIN * a] * s;
        m->actuator_biasprm[mjNBIAS * a + 1] = n->actuator_biasprm[mjNBIAS * a + 1] * s;
        m->actuator_biasprm[mjNBIAS * a + 2] = n->actuator_biasprm[mjNBIAS * a + 2] * s;
      }
    };
    scale(arm_actuators_, arm);
    scale(gripper_actuators_, gripper);
    Report("gains.arm", arm);
    if (!gripper_actuators_.empty()) Report("gains.gripper", gripper);
  }
}

// 8. Object size: geometry and bounding radius scale by s; at constant density mass scales by
// s^3 and inertia by s^5.
void Randomizer::ApplyMassAndSize(RandomStream* stream, double mass_scale, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double size = Draw(stream, c.size_scale);
  const bool mass_on = c.mass && !object_bodies_.empty();
  const bool size_on = c.object_size && !object_bodies_.empty();
  if (size_on) {
    for (int g : object_geoms_) {
      for (int k = 0; k < 3; ++k) m->geom_size[3 * g + k] = n->geom_size[3 * g + k] * size;
      m->geom_rbound[g] = n->geom_rbound[g] * size;
    }
  }
  const double s = size_on ? size : 1.0;
  const double mass_factor = (mass_on ? mass_scale : 1.0) * s * s * s;
  const double inertia_factor = (mass_on ? mass_scale : 1.0) * s * s * s * s * s;
  for (int b : object_bodies_) {
    m->body_mass[b] = n->body_mass[b] * mass_factor;
    for (int k = 0; k < 3; ++k)
      m->body_inertia[3 * b + k] = n->body_inertia[3 * b + k] * inertia_factor;
  }
  if (mass_on) Report("mass.object", mass_scale);
  if (size_on) Report("object_size.scale", size);
}

// 9. Table position in the plane, relative to where the model puts it.
void Randomizer::ApplyTable(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double dx = Symmetric(stream, c.table_position_noise);
  const double dy = Symmetric(stream, c.table_position_noise);
  if (c.table && table_body_ >= 0) {
    m->body_pos[3 * table_body_] = n->body_pos[3 * table_body_] + dx;
    m->body_pos[3 * table_body_ + 1] = n->body_pos[3 * table_body_ + 1] + dy;
    Report("table.dx", dx);
    Report("table.dy", dy);
  }
}

// 10. Gravity.
void Randomizer::ApplyGravity(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double dz = Symmetric(stream, c.gravity_noise);
  if (c.gravity) {
    m->opt.gravity[2] = n->opt.gravity[2] + dz;
    Report("gravity.z", m->opt.gravity[2]);
  }
}

// 11. Timestep (the env recomputes its number of substeps from it).
void Randomizer::ApplyTimestep(RandomStream* stream, mjModel* m) {
  const RandomizationConfig& c = config_;
  const mjModel* n = nominal_;
  const double scale = Draw(stream, c.timestep_scale);
  if (c.timestep) {
    m->opt.timestep = n->opt.timestep * scale;
    Report("timestep", m->opt.timestep);
  }
}

}  // namespace simscale::sim
