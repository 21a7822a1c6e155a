#include "common/sim/renderer.h"

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/osmesa.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "common/sim/mujoco.h"

namespace simscale::sim {

GlBackend ParseGlBackend(const std::string& name) {
  if (name == "auto") return GlBackend::kAuto;
  if (name == "egl" || name == "egl_device") return GlBackend::kEglDevice;
  if (name == "egl_surfaceless") return GlBackend::kEglSurfaceless;
  if (name == "osmesa") return GlBackend::kOsmesa;
  throw InvalidArgumentError(fmt::format(
      "GL backend: expected one of auto, egl, egl_device, egl_surfaceless, osmesa, got '{}'",
      name));
}

// A current-able OpenGL context without a window. The platform library is dlopen'ed so that only
// the chosen one is loaded (MuJoCo picks the GL library it finds loaded in the process).
class GlContext {
 public:
  virtual ~GlContext() = default;
  virtual void MakeCurrent() = 0;
  virtual std::string name() const = 0;
  // GL_RENDERER of the current context ("llvmpipe (LLVM 15.0.6, 256 bits)", a GPU name, ...).
  std::string RendererString() const {
    using GetString = const unsigned char* (*)(unsigned int);
    auto get_string = reinterpret_cast<GetString>(GlFunction("glGetString"));
    const unsigned char* text = get_string != nullptr ? get_string(GL_RENDERER) : nullptr;
    return text != nullptr ? reinterpret_cast<const char*>(text) : "unknown";
  }

 protected:
  virtual void* GlFunction(const char* name) const = 0;
};

namespace {

// A GL platform library, loaded once and never unloaded: MuJoCo caches the GL function pointers it
// resolves from it, so unloading and reloading it (one renderer after another) would leave them
// dangling.
class LibraryHandle {
 public:
  explicit LibraryHandle(const char* name) : handle_(Load(name)) {}
  bool ok() const { return handle_ != nullptr; }
  template <typename F>
  F Get(const char* symbol) const {
    return reinterpret_cast<F>(dlsym(handle_, symbol));
  }
  static std::string LastError() {
    const char* e = dlerror();
    return e != nullptr ? e : "unknown dlopen error";
  }

 private:
  static void* Load(const char* name) {
    static std::mutex mutex;
    static std::map<std::string, void*> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = loaded.find(name);
    if (it != loaded.end()) return it->second;
    void* handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (handle != nullptr) loaded.emplace(name, handle);
    return handle;
  }
  void* handle_;
};

class EglContext : public GlContext {
 public:
  // Throws RenderError on failure with the step that failed.
  // long function: the EGL bring-up is one sequence of calls, each failure named by its step.
  EglContext(bool use_device_platform) : lib_("libEGL.so.1") {
    if (!lib_.ok()) throw RenderError("cannot load libEGL.so.1: " + LibraryHandle::LastError());
    get_proc_ = lib_.Get<PFNEGLGETPROCADDRESSPROC>("eglGetProcAddress");
    auto initialize = lib_.Get<PFNEGLINITIALIZEPROC>("eglInitialize");
    auto choose_config = lib_.Get<PFNEGLCHOOSECONFIGPROC>("eglChooseConfig");
    auto bind_api = lib_.Get<PFNEGLBINDAPIPROC>("eglBindAPI");
    auto create_context = lib_.Get<PFNEGLCREATECONTEXTPROC>("eglCreateContext");
    get_error_ = lib_.Get<PFNEGLGETERRORPROC>("eglGetError");
    make_current_ = lib_.Get<PFNEGLMAKECURRENTPROC>("eglMakeCurrent");
    destroy_context_ = lib_.Get<PFNEGLDESTROYCONTEXTPROC>("eglDestroyContext");
    if (!get_proc_ || !initialize || !choose_config || !bind_api || !create_context ||
        !make_current_) {
      throw RenderError("libEGL.so.1 lacks core EGL 1.4 entry points");
    }
    auto get_platform_display =
        reinterpret_cast<PFNEGLGETPLATFORMDISPLAYEXTPROC>(get_proc_("eglGetPlatformDisplayEXT"));
    if (!get_platform_display) throw RenderError("EGL has no eglGetPlatformDisplayEXT");
    if (use_device_platform) {
      auto query_devices =
          reinterpret_cast<PFNEGLQUERYDEVICESEXTPROC>(get_proc_("eglQueryDevicesEXT"));
      if (!query_devices) throw RenderError("EGL has no eglQueryDevicesEXT (device platform)");
      EGLDeviceEXT devices[16];
      EGLint count = 0;
      if (!query_devices(16, devices, &count) || count == 0) {
        throw RenderError(fmt::format("EGL found no devices (error 0x{:x})", get_error_()));
      }
      // First device that initialises: a GPU when the driver exposes one, else Mesa's software
      // device.
      for (EGLint i = 0; i < count && display_ == EGL_NO_DISPLAY; ++i) {
        EGLDisplay display = get_platform_display(EGL_PLATFORM_DEVICE_EXT, devices[i], nullptr);
        EGLint major = 0, minor = 0;
        if (display != EGL_NO_DISPLAY && initialize(display, &major, &minor)) display_ = display;
      }
      name_ = "egl_device";
    } else {
      EGLDisplay display =
          get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr);
      EGLint major = 0, minor = 0;
      if (display != EGL_NO_DISPLAY && initialize(display, &major, &minor)) display_ = display;
      name_ = "egl_surfaceless";
    }
    if (display_ == EGL_NO_DISPLAY) {
      throw RenderError(
          fmt::format("{}: eglInitialize failed (error 0x{:x})", name_, get_error_()));
    }
    const EGLint attributes[] = {EGL_RED_SIZE,
                                 8,
                                 EGL_GREEN_SIZE,
                                 8,
                                 EGL_BLUE_SIZE,
                                 8,
                                 EGL_ALPHA_SIZE,
                                 8,
                                 EGL_DEPTH_SIZE,
                                 24,
                                 EGL_STENCIL_SIZE,
                                 8,
                                 EGL_COLOR_BUFFER_TYPE,
                                 EGL_RGB_BUFFER,
                                 EGL_SURFACE_TYPE,
                                 EGL_PBUFFER_BIT,
                                 EGL_RENDERABLE_TYPE,
                                 EGL_OPENGL_BIT,
                                 EGL_NONE};
    EGLConfig config;
    EGLint configs = 0;
    if (!choose_config(display_, attributes, &config, 1, &configs) || configs < 1) {
      Cleanup();
      throw RenderError(
          fmt::format("{}: no suitable EGL config (error 0x{:x})", name_, get_error_()));
    }
    if (!bind_api(EGL_OPENGL_API)) {
      Cleanup();
      throw RenderError(fmt::format("{}: eglBindAPI(OpenGL) failed", name_));
    }
    context_ = create_context(display_, config, EGL_NO_CONTEXT, nullptr);
    if (context_ == EGL_NO_CONTEXT) {
      Cleanup();
      throw RenderError(
          fmt::format("{}: eglCreateContext failed (error 0x{:x})", name_, get_error_()));
    }
    MakeCurrent();
  }
  ~EglContext() override { Cleanup(); }

  void MakeCurrent() override {
    if (!make_current_(display_, EGL_NO_SURFACE, EGL_NO_SURFACE, context_)) {
      throw RenderError(
          fmt::format("{}: eglMakeCurrent failed (error 0x{:x})", name_, get_error_()));
    }
  }
  std::string name() const override { return name_; }

 protected:
  void* GlFunction(const char* name) const override {
    return reinterpret_cast<void*>(get_proc_(name));
  }

 private:
  void Cleanup() {
    if (display_ == EGL_NO_DISPLAY) return;
    make_current_(display_, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    if (context_ != EGL_NO_CONTEXT) destroy_context_(display_, context_);
    // The display is shared by every context on the device: it stays initialised.
    context_ = EGL_NO_CONTEXT;
    display_ = EGL_NO_DISPLAY;
  }

  LibraryHandle lib_;
  PFNEGLGETPROCADDRESSPROC get_proc_ = nullptr;
  PFNEGLGETERRORPROC get_error_ = nullptr;
  PFNEGLMAKECURRENTPROC make_current_ = nullptr;
  PFNEGLDESTROYCONTEXTPROC destroy_context_ = nullptr;
  EGLDisplay display_ = EGL_NO_DISPLAY;
  EGLContext context_ = EGL_NO_CONTEXT;
  std::string name_;
};

class OsmesaContext : public GlContext {
 public:
  OsmesaContext(int width, int height)
      : lib_("libOSMesa.so.8"),
        buffer_(static_cast<size_t>(width) * height * 4),
        width_(width),
        height_(height) {
    if (!lib_.ok()) throw RenderError("cannot load libOSMesa.so.8: " + LibraryHandle::LastError());
    auto create = lib_.Get<decltype(&OSMesaCreateContextExt)>("OSMesaCreateContextExt");
    get_proc_ = lib_.Get<decltype(&OSMesaGetProcAddress)>("OSMesaGetProcAddress");
    make_current_ = lib_.Get<decltype(&OSMesaMakeCurrent)>("OSMesaMakeCurrent");
    destroy_ = lib_.Get<decltype(&OSMesaDestroyContext)>("OSMesaDestroyContext");
    if (!create || !make_current_ || !destroy_)
      throw RenderError("libOSMesa lacks its entry points");
    context_ = create(OSMESA_RGBA, 24, 8, 0, nullptr);
    if (context_ == nullptr) throw RenderError("OSMesaCreateContextExt failed");
    MakeCurrent();
  }
  ~OsmesaContext() override {
    if (context_ != nullptr) destroy_(context_);
  }
  void MakeCurrent() override {
    if (!make_current_(context_, buffer_.data(), GL_UNSIGNED_BYTE, width_, height_)) {
      throw RenderError("OSMesaMakeCurrent failed");
    }
  }
  std::string name() const override { return "osmesa"; }

 protected:
  void* GlFunction(const char* name) const override {
    return get_proc_ != nullptr ? reinterpret_cast<void*>(get_proc_(name)) : nullptr;
  }

 private:
  LibraryHandle lib_;
  decltype(&OSMesaGetProcAddress) get_proc_ = nullptr;
  decltype(&OSMesaMakeCurrent) make_current_ = nullptr;
  decltype(&OSMesaDestroyContext) destroy_ = nullptr;
  OSMesaContext context_ = nullptr;
  std::vector<uint8_t> buffer_;
  int width_, height_;
};

bool IsEgl(GlBackend backend) {
  return backend == GlBackend::kEglDevice || backend == GlBackend::kEglSurfaceless;
}

std::unique_ptr<GlContext> CreateContextUnchecked(GlBackend backend, int width, int height) {
  // Mesa's llvmpipe rasterises on helper threads by default; with one MPI rank per core they only
  // compete with the other ranks. Rendering on the calling thread is measured fastest here
  // (benchmarks/RESULTS.md). An explicit LP_NUM_THREADS wins.
  setenv("LP_NUM_THREADS", "0", /*overwrite=*/0);
  switch (backend) {
    case GlBackend::kEglDevice:
      return std::make_unique<EglContext>(true);
    case GlBackend::kEglSurfaceless:
      return std::make_unique<EglContext>(false);
    case GlBackend::kOsmesa:
      return std::make_unique<OsmesaContext>(width, height);
    case GlBackend::kAuto:
      break;
  }
  std::vector<std::string> failures;
  for (const bool device : {true, false}) {
    try {
      return std::make_unique<EglContext>(device);
    } catch (const RenderError& e) {
      failures.push_back(e.what());
    }
  }
  try {
    return std::make_unique<OsmesaContext>(width, height);
  } catch (const RenderError& e) {
    failures.push_back(e.what());
  }
  std::string reasons;
  for (const auto& f : failures) reasons += "\n  - " + f;
  throw RenderError(
      "no OpenGL platform is available for offscreen rendering; tried:" + reasons +
      "\nInstall Mesa's EGL (libegl-mesa0, libgl1-mesa-dri) or OSMesa (libosmesa6), or a GPU "
      "driver with EGL; or record no camera images.");
}

// MuJoCo resolves GL functions once, from the first platform library it finds in the process, so
// every renderer of a process must use the same platform (EGL or OSMesa).
std::unique_ptr<GlContext> CreateContext(GlBackend backend, int width, int height) {
  static std::mutex mutex;
  static std::optional<bool> process_uses_egl;
  std::lock_guard<std::mutex> lock(mutex);
  if (backend == GlBackend::kAuto) {
    if (const char* env = std::getenv("MUJOCO_GL"); env != nullptr && *env != '\0') {
      backend = ParseGlBackend(env);
    } else if (process_uses_egl) {
      backend = *process_uses_egl ? GlBackend::kEglDevice : GlBackend::kOsmesa;
    }
  }
  if (process_uses_egl && backend != GlBackend::kAuto && IsEgl(backend) != *process_uses_egl) {
    throw RenderError(fmt::format(
        "this process already renders with {}; MuJoCo supports one GL platform per process "
        "(run another process to use {})",
        *process_uses_egl ? "EGL" : "OSMesa", IsEgl(backend) ? "EGL" : "OSMesa"));
  }
  auto context = CreateContextUnchecked(backend, width, height);
  process_uses_egl = context->name() != "osmesa";
  return context;
}

}  // namespace

Renderer::Renderer(const mjModel* model, RenderOptions options) : options_(options), model_(model) {
  CheckArgument(options_.width > 0 && options_.height > 0, "render size",
                fmt::format("{}x{}", options_.width, options_.height), "positive width and height");
  InstallMujocoHandlers();
  gl_ = CreateContext(options_.backend, options_.width, options_.height);
  // The offscreen framebuffer is sized from the model's visual settings: make it exactly the
  // image, without multisampling, on a copy so the shared model stays untouched.
  ModelPtr sized(mj_copyModel(nullptr, model));
  if (!sized) throw RenderError("mj_copyModel failed");
  sized->vis.global.offwidth = options_.width;
  sized->vis.global.offheight = options_.height;
  sized->vis.quality.offsamples = 0;
  sized->vis.quality.shadowsize = 0;
  mjv_defaultScene(&scene_);
  mjv_defaultOption(&option_);
  mjv_defaultCamera(&camera_);
  mjr_defaultContext(&context_);
  mjv_makeScene(sized.get(), &scene_, 2000);
  mjr_makeContext(sized.get(), &context_, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &context_);
  if (context_.currentBuffer != mjFB_OFFSCREEN) {
    throw RenderError("the OpenGL context has no offscreen framebuffer");
  }
  scene_.flags[mjRND_SHADOW] = 0;
  scene_.flags[mjRND_REFLECTION] = 0;
  scene_.flags[mjRND_SKYBOX] = 0;
  camera_.type = mjCAMERA_FIXED;
  rgb_scratch_.resize(static_cast<size_t>(options_.width) * options_.height * 3);
  depth_scratch_.resize(static_cast<size_t>(options_.width) * options_.height);
}

Renderer::~Renderer() {
  if (gl_) {
    try {
      gl_->MakeCurrent();
    } catch (...) {
    }
  }
  mjr_freeContext(&context_);
  mjv_freeScene(&scene_);
}

int Renderer::CameraId(const std::string& name) const {
  const int id = mj_name2id(model_, mjOBJ_CAMERA, name.c_str());
  if (id < 0) {
    std::string valid;
    for (const auto& n : CameraNames()) valid += (valid.empty() ? "" : ", ") + n;
    throw RenderError(fmt::format("unknown camera '{}'; the model's cameras are: {}", name, valid));
  }
  return id;
}

std::vector<std::string> Renderer::CameraNames() const {
  std::vector<std::string> names;
  for (int i = 0; i < model_->ncam; ++i) names.emplace_back(mj_id2name(model_, mjOBJ_CAMERA, i));
  return names;
}

std::string Renderer::description() const {
  gl_->MakeCurrent();
  return fmt::format("{} ({})", gl_->name(), gl_->RendererString());
}

void Renderer::Render(const mjModel* model, const mjData* data, int camera, CameraImage* out) {
  SIMSCALE_CHECK(camera >= 0 && camera < model->ncam, "camera id {} out of range", camera);
  gl_->MakeCurrent();
  const int w = options_.width, h = options_.height;
  const mjrRect viewport = {0, 0, w, h};
  camera_.fixedcamid = camera;
  // mjv_updateScene only reads the data; its signature predates const-correctness.
  mjv_updateScene(model, const_cast<mjData*>(data), &option_, nullptr, &camera_, mjCAT_ALL,
                  &scene_);
  scene_.flags[mjRND_SEGMENT] = 0;
  scene_.flags[mjRND_IDCOLOR] = 0;
  mjr_render(viewport, &scene_, &context_);
  mjr_readPixels(rgb_scratch_.data(), options_.depth ? depth_scratch_.data() : nullptr, viewport,
                 &context_);
  out->width = w;
  out->height = h;
  out->rgb.resize(static_cast<size_t>(w) * h * 3);
  // OpenGL's origin is the bottom-left corner: flip rows so row 0 is the top of the image.
  for (int row = 0; row < h; ++row) {
    std::memcpy(out->rgb.data() + static_cast<size_t>(row) * w * 3,
                rgb_scratch_.data() + static_cast<size_t>(h - 1 - row) * w * 3,
                static_cast<size_t>(w) * 3);
  }
  if (options_.depth) {
    // Linearise the depth buffer: z in [0, 1] -> distance along the optical axis.
    const double extent = model->stat.extent;
    const double near = model->vis.map.znear * extent;
    const double far = model->vis.map.zfar * extent;
    out->depth.resize(static_cast<size_t>(w) * h);
    for (int row = 0; row < h; ++row) {
      const float* src = depth_scratch_.data() + static_cast<size_t>(h - 1 - row) * w;
      float* dst = out->depth.data() + static_cast<size_t>(row) * w;
      for (int col = 0; col < w; ++col) {
        dst[col] = static_cast<float>(near / (1.0 - src[col] * (1.0 - near / far)));
      }
    }
  }
  if (options_.segmentation) {
    scene_.flags[mjRND_SEGMENT] = 1;
    scene_.flags[mjRND_IDCOLOR] = 1;
    mjr_render(viewport, &scene_, &context_);
    mjr_readPixels(rgb_scratch_.data(), nullptr, viewport, &context_);
    scene_.flags[mjRND_SEGMENT] = 0;
    scene_.flags[mjRND_IDCOLOR] = 0;
    out->segmentation.resize(static_cast<size_t>(w) * h);
    for (int row = 0; row < h; ++row) {
      const uint8_t* src = rgb_scratch_.data() + static_cast<size_t>(h - 1 - row) * w * 3;
      int32_t* dst = out->segmentation.data() + static_cast<size_t>(row) * w;
      for (int col = 0; col < w; ++col) {
        // IDCOLOR encodes segid + 1 in the RGB bytes (0 = background).
        const int32_t segid =
            (src[3 * col] | (src[3 * col + 1] << 8) | (src[3 * col + 2] << 16)) - 1;
        int32_t geom = -1;
        if (segid >= 0 && segid < scene_.ngeom && scene_.geoms[segid].objtype == mjOBJ_GEOM) {
          geom = scene_.geoms[segid].objid;
        }
        dst[col] = geom;
      }
    }
  }
}

}  // namespace simscale::sim
