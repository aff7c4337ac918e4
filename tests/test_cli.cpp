// The `automl` executable as a user meets it: help for every command, the mi commands on real
// files, and bad input that names the file and fails with a non-zero exit.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_support.h"

namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// build/tests/automl_tests -> build/automl
std::string automl_binary() {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "automl").string();
}

Result run_automl(const std::string& arguments) {
  Result r;
  FILE* pipe = popen((automl_binary() + " " + arguments + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (const std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string last_line(const std::string& text) {
  const auto end = text.find_last_not_of('\n');
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - start);
}

}  // namespace

TEST_CASE("automl --help and <command> --help describe every command", "[cli]") {
  const auto top = run_automl("--help");
  CHECK(top.status == 0);
  for (const auto* command : {"run", "query", "report", "mi", "mi-curve"}) {
    CHECK_THAT(top.output, Catch::Contains(command));
    const auto help = run_automl(std::string(command) + " --help");
    CHECK(help.status == 0);
    CHECK_THAT(help.output, Catch::Contains("Options"));
  }
  CHECK_THAT(run_automl("run --help").output, Catch::Contains("--dry-run"));
  CHECK(run_automl("no-such-command").status != 0);
}

TEST_CASE("automl mi prints the estimate of two CSV tables on its last line", "[cli][mi]") {
  automl::test::TempDir dir;
  // X and Y identical columns 0..99 plus a little structure: I(X;Y) is large and positive;
  // Y independent of X (a fixed alternating pattern against a ramp) gives about 0.
  std::string x = "x\n", same = "y\n", alternating = "y\n";
  for (int i = 0; i < 200; ++i) {
    x += std::to_string(i) + "\n";
    same += std::to_string(i) + "\n";
    alternating += std::to_string((i * 7919) % 13) + "\n";
  }
  automl::test::write_text(dir.file("x.csv"), x);
  automl::test::write_text(dir.file("same.csv"), same);
  const auto r = run_automl("mi --x " + dir.file("x.csv") + " --y " + dir.file("same.csv"));
  REQUIRE(r.status == 0);
  // KSG of identical variables at n = 200, k = 3: psi(n) - psi(k) + ... = about ln(200) - 1.
  CHECK(std::stod(last_line(r.output)) > 3.0);

  SECTION("bad input names the file and the line, exit status 1") {
    automl::test::write_text(dir.file("bad.csv"), "a\n1\n2\nthree\n");
    const auto bad = run_automl("mi --x " + dir.file("bad.csv") + " --y " + dir.file("same.csv"));
    CHECK(bad.status == 1);
    CHECK_THAT(bad.output, Catch::Contains("bad.csv:4"));
    automl::test::write_text(dir.file("short.csv"), "y\n1\n2\n3\n4\n5\n");
    const auto mismatch =
        run_automl("mi --x " + dir.file("x.csv") + " --y " + dir.file("short.csv"));
    CHECK(mismatch.status == 1);
    CHECK_THAT(mismatch.output, Catch::Contains("short.csv"));
    automl::test::write_text(dir.file("empty.csv"), "");
    CHECK(run_automl("mi --x " + dir.file("empty.csv") + " --y " + dir.file("same.csv")).status ==
          1);
  }
}

TEST_CASE("automl mi-curve on an IDX data set gives mean and sd per size as CSV", "[cli][mi]") {
  automl::test::TempDir dir;
  // 60 images of 2x2 pixels whose first pixel encodes the label (3 classes): X determines Y.
  std::vector<std::uint8_t> images, labels;
  for (int i = 0; i < 60; ++i) {
    labels.push_back(static_cast<std::uint8_t>(i % 3));
    for (int p = 0; p < 4; ++p)
      images.push_back(static_cast<std::uint8_t>(p == 0 ? 80 * (i % 3) : (i * 37 + p * 11) % 256));
  }
  for (const std::string split : {"train", "t10k"}) {
    automl::test::write_gzip(dir.file(split + "-images-idx3-ubyte.gz"),
                             automl::test::idx_bytes({60, 2, 2}, images));
    automl::test::write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"),
                             automl::test::idx_bytes({60}, labels));
  }
  const auto r = run_automl("mi-curve --data " + dir.path().string() + " --n 20,40 --repeats 3");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::StartsWith("n,mean_nats,sd_nats,repeats\n20,"));
  CHECK_THAT(r.output, Catch::Contains("\n40,"));
  CHECK_THAT(r.output, Catch::EndsWith(",3\n"));

  CHECK(run_automl("mi-curve --data " + dir.path().string() + " --n 100").status == 1);  // > rows
  CHECK(run_automl("mi-curve --n 20").status == 1);  // neither --data nor --x/--y
  CHECK_THAT(run_automl("mi-curve --data /nonexistent --n 20").output,
             Catch::Contains("/nonexistent"));
}

TEST_CASE("automl run on bad data fails before anything is written", "[cli]") {
  automl::test::TempDir dir;
  // A valid label file but an image file cut short: only loading the data finds it.
  const std::vector<std::uint8_t> labels(10, 1), images(10 * 4, 7);
  for (const std::string split : {"train", "t10k"}) {
    automl::test::write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"),
                             automl::test::idx_bytes({10}, labels));
    auto bytes = automl::test::idx_bytes({10, 2, 2}, images);
    if (split == "train") bytes.resize(bytes.size() - 5);
    automl::test::write_gzip(dir.file(split + "-images-idx3-ubyte.gz"), bytes);
  }
  const auto db = dir.file("out.db");
  automl::test::write_text(dir.file("e.yaml"), "name: e\ndatabase: " + db + "\ndata: {path: " +
                                                   dir.path().string() + "}\nepochs: 1\n");
  for (const std::string extra : {"", " --dry-run"}) {
    const auto r = run_automl("run " + dir.file("e.yaml") + extra);
    CHECK(r.status == 1);
    CHECK_THAT(r.output, Catch::Contains("e.yaml") && Catch::Contains("train-images") &&
                             Catch::Contains("truncated"));
    CHECK_FALSE(std::filesystem::exists(db));
  }
}

TEST_CASE("automl run exits 3 when its budget stops it, and query takes --db anywhere",
          "[cli][faults]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  const auto db = dir.file("budget.db");
  // The smoke experiment with room for one epoch: its first job runs, then the budget is spent.
  std::ifstream smoke(std::string(AUTOML_SOURCE_DIR) + "/experiments/smoke.yaml");
  std::string yaml((std::istreambuf_iterator<char>(smoke)), {});
  yaml += "budget: {epochs: 1}\n";
  automl::test::write_text(dir.file("smoke.yaml"), yaml);
  const auto run = run_automl("run " + dir.file("smoke.yaml") + " --db " + db + " --threads 1");
  CHECK(run.status == 3);
  CHECK_THAT(run.output, Catch::Contains("stopped by its budget"));
  // The README's form (--db after the view) and the older one (before it) both work.
  const auto after = run_automl("query experiments --db " + db + " --format csv");
  const auto before = run_automl("query --db " + db + " experiments --format csv");
  CHECK(after.status == 0);
  CHECK_THAT(after.output, Catch::Contains("smoke,stopped"));
  CHECK(after.output == before.output);
  CHECK(run_automl("query trials --db " + db + " --status done").status == 0);
  CHECK(run_automl("query trials --db " + db + " --status finished").status != 0);
}
