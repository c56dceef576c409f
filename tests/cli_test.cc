// The segd command line as a user runs it: output on stdout, errors as
// JSON on stderr with a non-zero exit status.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

namespace segd {
namespace {

struct CommandResult {
  int status;
  std::string out;
  std::string err;
};

CommandResult Segd(const std::string& args) {
  // ctest runs tests in parallel: name the capture files after the test.
  const std::string base =
      ::testing::TempDir() + "/" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string out = base + ".out", err = base + ".err";
  const std::string command =
      std::string(SEGD_BINARY) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  return CommandResult{WEXITSTATUS(status), slurp(out), slurp(err)};
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliTest, QueryPrintsCountAndMembers) {
  const std::string data =
      WriteFile("cli.ndjson", R"({"id":"a","city":"Pune","name":"Asha"})"
                              "\n"
                              R"({"id":"b","city":"Mumbai"})"
                              "\n"
                              R"({"id":"c","city":"pune","email":"c@x"})"
                              "\n");
  CommandResult r = Segd(
      "query --load " + data +
      R"( --rule '{"field":"city","op":"eq","value":"Pune"}' --fields name,city)");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"count":2,"members":[{"id":"a","name":"Asha","city":"Pune"},{"id":"c","name":null,"city":"pune"}]})"
      "\n");
}

TEST(CliTest, RuleFromFileLimitAndNow) {
  const std::string data =
      WriteFile("cli_now.ndjson", R"({"id":"a","signed_up":"2026-11-19"})"
                                  "\n"
                                  R"({"id":"b","signed_up":"2026-10-01"})"
                                  "\n");
  const std::string rule = WriteFile(
      "rule.json", R"({"field":"signed_up","op":"within_last","value":"7d"})");
  CommandResult r = Segd("query --load " + data + " --rule @" + rule +
                         " --now 2026-11-20T00:00:00Z --limit 0");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"count\":1,\"members\":[]}\n");
}

TEST(CliTest, RuleErrorsGoToStderrAsJsonWithTheNodePointer) {
  const std::string data =
      WriteFile("cli_err.ndjson", R"({"id":"a","city":"Pune"})");
  CommandResult r =
      Segd("query --load " + data +
           R"( --rule '{"all":[{"field":"town","op":"eq","value":"x"}]}')");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find(R"("code":"invalid")"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(R"("path":"/all/0/field")"), std::string::npos) << r.err;
}

// An error about the whole rule points at all of it: the empty pointer.
TEST(CliTest, AnErrorAboutTheWholeRuleCarriesTheEmptyPath) {
  const std::string data =
      WriteFile("cli_root.ndjson", R"({"id":"a","city":"Pune"})");
  CommandResult r = Segd("query --load " + data + " --rule '[]'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(R"("code":"malformed")"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(R"("path":"")"), std::string::npos) << r.err;
}

TEST(CliTest, ASchemaConflictPointsAtTheDeclaration) {
  const std::string data =
      WriteFile("cli_schema.ndjson", R"({"id":"a","city":"Pune"})");
  CommandResult r = Segd("query --load " + data +
                         R"( --schema '{"customer_type":"number"}')" +
                         R"( --rule '{"all":[]}')");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(R"("path":"/customer_type")"), std::string::npos)
      << r.err;
}

TEST(CliTest, RejectedRecordsAreListedAndTheQueryStillRuns) {
  const std::string data = WriteFile("cli_bad.ndjson", R"({"id":"a","n":1})"
                                                       "\n"
                                                       R"({"id":"b","n":"x"})"
                                                       "\n"
                                                       "{broken\n");
  CommandResult r = Segd("query --load " + data + R"( --rule '{"all":[]}')");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"count":1,"members":[{"id":"a","name":null,"email":null,"phone":null,"customer_type":"guest"}]})"
      "\n");
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
}

TEST(CliTest, MissingFileAndBadFlagsFail) {
  EXPECT_NE(Segd("query --load /nonexistent.ndjson --rule '{}'").status, 0);
  EXPECT_NE(Segd("query --rule '{}'").status, 0);
  EXPECT_NE(Segd("query --load x --rule '{}' --limit -3").status, 0);
  EXPECT_NE(Segd("frobnicate").status, 0);
  EXPECT_NE(Segd("gen --profiles ten").status, 0);
}

TEST(CliTest, BenchMergePolicyFlagsAreChecked) {
  for (const char* args : {"bench --merge-fanout 1", "bench --merge-fanout 65",
                           "bench --merge-fanout eight", "bench --max-layers 7",
                           "bench --max-layers 65"}) {
    const CommandResult r = Segd(args);
    EXPECT_NE(r.status, 0) << args;
    const std::string flag(args + 6, std::string_view(args + 6).find(' '));
    EXPECT_NE(r.err.find(flag), std::string::npos) << args << ": " << r.err;
  }
}

TEST(CliTest, HelpAnywherePrintsTheUsage) {
  for (const char* args : {"--help", "help", "bench --help", "query -h"}) {
    const CommandResult r = Segd(args);
    EXPECT_EQ(r.status, 0) << args;
    EXPECT_NE(r.out.find("segd query --load FILE"), std::string::npos) << args;
    EXPECT_EQ(r.err, "") << args;
  }
}

TEST(CliTest, GenIsDeterministicAndLoadsCleanly) {
  const std::string a = ::testing::TempDir() + "/gen_a.ndjson";
  const std::string b = ::testing::TempDir() + "/gen_b.ndjson";
  ASSERT_EQ(Segd("gen --profiles 2000 --seed 7 --out " + a).status, 0);
  ASSERT_EQ(Segd("gen --profiles 2000 --seed 7 --out " + b).status, 0);
  std::ifstream fa(a), fb(b);
  const std::string ta(std::istreambuf_iterator<char>(fa), {});
  const std::string tb(std::istreambuf_iterator<char>(fb), {});
  EXPECT_EQ(ta, tb);
  CommandResult r =
      Segd("query --load " + a + R"( --rule '{"all":[]}' --limit 0)");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"count\":2000,\"members\":[]}\n");
  EXPECT_TRUE(r.err.empty()) << r.err;  // every generated record is valid
}

}  // namespace
}  // namespace segd
