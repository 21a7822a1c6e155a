// render_scenes: saves every camera's view of every env as PNG (used in the docs), after a reset
// and after some expert steps, or at chosen steps of the expert's episode, e.g.
//   render_scenes --output docs/images --size 256 [--condition default] [--steps 40]
//   render_scenes --output docs/images --size 64 --at 0,20,34   # <env>_<camera>_64px_step<N>.png
#include <algorithm>
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
  std::vector<int64_t> at;        // expert steps to save at (empty: after reset and after `steps`)
  std::vector<std::string> envs;  // empty: every registered env
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
  schema
      ->Add("render.at", &o->at,
            "expert steps to save frames at, named <env>_<camera>_<size>px_step<N>.png (empty: "
            "after the reset and after render.steps)")
      .Flag("at");
  schema->Add("render.envs", &o->envs, "envs to render (empty: all)")
      .OneOf(envs::ListEnvs())
      .Flag("envs");
  schema->Add("render.condition", &o->condition, "domain randomization condition")
      .OneOf(sim::RandomizationConditionNames())
      .Flag("condition");
  schema->Add("render.episode", &o->episode, "episode index (task layout)").Min(0).Flag("episode");
  schema->Add("render.seed", &o->seed, "base seed").Min(0).Flag("seed");
  schema->Add("render.backend", &o->backend, "OpenGL platform for rendering")
      .OneOf({"auto", "egl", "egl_device", "egl_surfaceless", "osmesa"})
      .Flag("backend");
}

// Every camera of `env` now, as <output>/<env>_<camera>_<tag>.png.
void SaveCameras(const sim::RobotEnv& env, sim::Renderer* renderer, const std::string& output,
                 const std::string& tag) {
  for (const auto& camera : renderer->CameraNames()) {
    sim::CameraImage image;
    renderer->Render(env.model(), env.data(), renderer->CameraId(camera), &image);
    const std::string path = fmt::format("{}/{}_{}_{}.png", output, env.name(), camera, tag);
    sim::WritePng(path, image.rgb.data(), image.width, image.height);
    log::Info("{} [{}] step {}: {}", path, renderer->description(), env.step_count(),
              env.instruction());
  }
}

void RenderScenes(const RenderScenesOptions& o) {
  const auto seed = static_cast<uint64_t>(o.seed);
  const auto episode = static_cast<uint64_t>(o.episode);
  // Moments to save (expert steps) and their file tags.
  std::vector<std::pair<int64_t, std::string>> moments = {{0, "reset"}, {o.steps, "later"}};
  if (!o.at.empty()) {
    moments.clear();
    for (int64_t step : o.at) moments.emplace_back(step, fmt::format("{}px_step{}", o.size, step));
    std::sort(moments.begin(), moments.end());
  }
  for (const auto& name : o.envs.empty() ? envs::ListEnvs() : o.envs) {
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
    bool done = false;
    for (const auto& [step, tag] : moments) {
      while (!done && env->step_count() < step) {
        expert->Act(*env, action.data());
        done = env->Step(action.data()).done();
      }
      SaveCameras(*env, &renderer, o.output, tag);
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
