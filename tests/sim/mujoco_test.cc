#include "common/sim/mujoco.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/mujoco_test.h"

namespace simscale::sim {
namespace {
using testing_support::MujocoTest;

constexpr const char* kPendulum = R"(
<mujoco model="pendulum">
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.02" mass="1"/>
    </body>
  </worldbody>
</mujoco>)";

class MujocoWrapperTest : public MujocoTest {};

TEST_F(MujocoWrapperTest, LoadsValidXmlFromMemory) {
  ModelPtr model = LoadModelFromString(kPendulum, "pendulum");
  EXPECT_EQ(model->nq, 1);
  DataPtr data = MakeData(model.get());
  data->qpos[0] = 0.3;
  for (int i = 0; i < 100; ++i) mj_step(model.get(), data.get());
  EXPECT_NE(data->qpos[0], 0.3);  // it swings
}

TEST_F(MujocoWrapperTest, MissingFileIsAClearError) {
  try {
    LoadModelFromXml("/nonexistent/scene.xml");
    FAIL() << "expected MujocoError";
  } catch (const MujocoError& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/scene.xml' does not exist"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(MujocoWrapperTest, InvalidXmlNamesFileAndParserMessage) {
  const auto path = std::filesystem::temp_directory_path() / "simscale_bad_scene.xml";
  std::ofstream(path) << "<mujoco><worldbody><body><geom type=\"sphere\" size=\"-1\"/>"
                         "</body></worldbody></mujoco>";
  try {
    LoadModelFromXml(path);
    FAIL() << "expected MujocoError";
  } catch (const MujocoError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("line"), std::string::npos) << "parser location missing: " << message;
  }
  std::filesystem::remove(path);
}

TEST_F(MujocoWrapperTest, MujocoErrorsThrowInsteadOfExiting) {
  InstallMujocoHandlers();
  EXPECT_THROW(mju_error("simulated fatal error"), MujocoError);
}

TEST_F(MujocoWrapperTest, AnnouncedWarningsAreAccepted) {
  ExpectMujocoWarning("bad number");
  mju_warning("bad number in qacc (simulated)");
}

// The fixture itself must fail a test on an unannounced warning.
TEST(MujocoTestFixture, UnannouncedWarningFailsTheTest) {
  class Probe : public MujocoTest {
   public:
    void TestBody() override {}
    void RunSetUp() { SetUp(); }
    void RunTearDown() { TearDown(); }
  };
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    Probe probe;
    probe.RunSetUp();
    mju_warning("contact buffer full (simulated)");
    probe.RunTearDown();
  }
  ASSERT_EQ(failures.size(), 1);
  EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("contact buffer full"),
            std::string::npos);
}

}  // namespace
}  // namespace simscale::sim
