#pragma once

#include <mujoco/mujoco.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/core/error.h"

// Offscreen rendering of MuJoCo scenes on CPU or GPU. The GL platform is loaded at run time
// (dlopen), so binaries do not depend on it: EGL through its device platform (a GPU where there is
// one, Mesa's software device otherwise), EGL surfaceless, or OSMesa as the fallback.
namespace simscale::sim {

class RenderError : public Error {
 public:
  using Error::Error;
};

enum class GlBackend { kAuto, kEglDevice, kEglSurfaceless, kOsmesa };
// "auto", "egl" (device, then surfaceless), "egl_device", "egl_surfaceless", "osmesa".
GlBackend ParseGlBackend(const std::string& name);

struct RenderOptions {
  int width = 128;
  int height = 128;
  bool depth = false;
  bool segmentation = false;
  // kAuto honours $MUJOCO_GL (egl / osmesa), then tries EGL device, EGL surfaceless, OSMesa.
  GlBackend backend = GlBackend::kAuto;
};

// One camera's images, row 0 at the top.
struct CameraImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;           // H x W x 3
  std::vector<float> depth;           // H x W, metres along the optical axis (if requested)
  std::vector<int32_t> segmentation;  // H x W, geom id, -1 = background (if requested)
};

class GlContext;

// Renders cameras of one model. Fast settings for observations: the offscreen buffer is exactly
// the image size; shadows, reflections, skybox and multisampling are off. Not thread-safe: one
// Renderer per thread (each owns its GL context and makes it current when it renders).
class Renderer {
 public:
  Renderer(const mjModel* model, RenderOptions options);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders fixed camera `camera` (an id from CameraId) of `data`, which must hold up-to-date
  // kinematics, using `model` (the env's possibly randomized copy of the model it was built for).
  void Render(const mjModel* model, const mjData* data, int camera, CameraImage* out);
  // Camera id by name; throws RenderError listing the model's cameras if unknown.
  int CameraId(const std::string& name) const;
  std::vector<std::string> CameraNames() const;
  // "egl_device (llvmpipe ...)" etc.
  std::string description() const;
  const RenderOptions& options() const { return options_; }

 private:
  RenderOptions options_;
  const mjModel* model_;
  std::unique_ptr<GlContext> gl_;
  mjvScene scene_;
  mjvOption option_;
  mjvCamera camera_;
  mjrContext context_;
  std::vector<uint8_t> rgb_scratch_;
  std::vector<float> depth_scratch_;
};

}  // namespace simscale::sim
