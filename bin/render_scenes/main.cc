// render_scenes: saves every camera's view of every env as PNG (used in the docs), after a reset
// and after some expert steps, e.g.
//   render_scenes --output docs/images --size 256 [--condition default] [--steps 40]
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/app/tool.h"
#include "common/core/log.h"
#include "common/envs/registry.h"
#include "common/sim/image_io.h"
#include "common/sim/randomization.h"
#include "common/sim/renderer.h"

namespace simscale {
namespace {

struct RenderScenesOptions {
  app::RunOptions run;  // only its log options
  std::string output = "docs/images";
  int64_t size = 256;
  int64_t steps = 40;
  std::string condition = "clean";
  int64_t episode = 0;
  int64_t seed = 0;
  std::string backend = "auto";
};

void DeclareOptions(config::Schema* schema, RenderScenesOptions* o) {
  app::AddLogOptions(schema, &o->run);
  schema->Add("render.output", &o->output, "directory the PNGs are written to")
      .NonEmpty()
      .Flag("output");
  schema->Add("render.size", &o->size, "square image side in pixels").Min(8).Max(4096).Flag("size");
  schema->Add("render.steps", &o->steps, "expert steps between the two pictures")
      .Min(0)
      .Flag("steps");
  schema->Add("render.condition", &o->condition, "domain randomization condition")
      .OneOf(sim::RandomizationConditionNames())
      .Flag("condition");
  schema->Add("render.episode", &o->episode, "episode index (task layout)").Min(0).Flag("episode");
  schema->Add("render.seed", &o->seed, "base seed").Min(0).Flag("seed");
  schema->Add("render.backend", &o->backend, "OpenGL platform for rendering")
      .OneOf({"auto", "egl", "egl_device", "egl_surfaceless", "osmesa"})
      .Flag("backend");
}

void RenderScenes(const RenderScenesOptions& o) {
  const auto seed = static_cast<uint64_t>(o.seed);
  const auto episode = static_cast<uint64_t>(o.episode);
  for (const auto& name : envs::ListEnvs()) {
    sim::EnvOptions options;
    options.randomization = sim::RandomizationCondition(o.condition);
    auto env = envs::MakeEnv(name, options);
    auto expert = envs::MakeScriptedExpert(name);
    sim::RenderOptions render;
    render.width = render.height = static_cast<int>(o.size);
    render.backend = sim::ParseGlBackend(o.backend);
    sim::Renderer renderer(env->model(), render);
    env->Reset(seed, episode);
    expert->Reset(*env, seed, episode);
    std::vector<double> action(static_cast<size_t>(env->action_spec().size()));
    for (int stage = 0; stage < 2; ++stage) {
      for (const auto& camera : renderer.CameraNames()) {
        sim::CameraImage image;
        renderer.Render(env->model(), env->data(), renderer.CameraId(camera), &image);
        const std::string path =
            fmt::format("{}/{}_{}_{}.png", o.output, name, camera, stage == 0 ? "reset" : "later");
        sim::WritePng(path, image.rgb.data(), image.width, image.height);
        log::Info("{} [{}]: {}", path, renderer.description(), env->instruction());
      }
      for (int64_t s = 0; s < o.steps && stage == 0; ++s) {
        expert->Act(*env, action.data());
        if (env->Step(action.data()).done()) break;
      }
    }
  }
}

}  // namespace
}  // namespace simscale

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::RenderScenesOptions options;
    simscale::config::Schema schema("render_scenes",
                                    "saves every camera of every env as PNG, after a reset and "
                                    "after some expert steps");
    simscale::DeclareOptions(&schema, &options);
    if (!simscale::app::ParseConfig(&schema, options.run, context.world(), argc, argv)) return 0;
    simscale::RenderScenes(options);
    return 0;
  });
}
