#include "base/json_writer.h"

#include <gtest/gtest.h>

namespace segd {
namespace {

TEST(JsonWriterTest, NestsAndSeparates) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a");
  w.Int(-1);
  w.Key("b");
  w.BeginArray();
  w.Bool(true);
  w.Null();
  w.Double(1.5);
  w.BeginObject();
  w.EndObject();
  w.EndArray();
  w.Key("c");
  w.Uint(18446744073709551615ull);
  w.EndObject();
  EXPECT_EQ(w.str(),
            R"({"a":-1,"b":[true,null,1.5,{}],"c":18446744073709551615})");
}

TEST(JsonWriterTest, EscapesControlCharactersQuotesAndBackslashes) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\n\t\x01\x1f\0", 10));
  EXPECT_EQ(out, R"("a\"b\\c\n\t\u0001\u001f\u0000")");
}

TEST(JsonWriterTest, KeepsUtf8AsIs) {
  std::string out;
  AppendJsonString(out, "Zürich अनन्या");
  EXPECT_EQ(out, "\"Zürich अनन्या\"");
}

TEST(JsonWriterTest, DoublesRoundTripAndNonFiniteIsNull) {
  JsonWriter w;
  w.BeginArray();
  w.Double(0.1);
  w.Double(1e300);
  w.Double(std::numeric_limits<double>::infinity());
  w.EndArray();
  EXPECT_EQ(w.str(), "[0.1,1e+300,null]");
}

TEST(JsonWriterTest, ReplacesInvalidUtf8SoTheOutputStaysJson) {
  std::string out;
  AppendJsonString(out,
                   "a\xff\xfe b \xc3\xa9 \xc3 \xed\xa0\x80 \xf0\x9f\x98\x80");
  EXPECT_EQ(out,
            "\"a\\ufffd\\ufffd b \xc3\xa9 \\ufffd \\ufffd\\ufffd\\ufffd "
            "\xf0\x9f\x98\x80\"");
}

}  // namespace
}  // namespace segd
