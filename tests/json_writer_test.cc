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

TEST(JsonWriterTest, EveryByteIsEscapedWhereverItFalls) {
  // Strings are checked eight bytes at a time, the tail overlapping the
  // last block: a byte that needs escaping must be found at any offset.
  static constexpr char kHex[] = "0123456789abcdef";
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    std::string escaped;
    switch (c) {
      case '"':
        escaped = "\\\"";
        break;
      case '\\':
        escaped = "\\\\";
        break;
      case '\n':
        escaped = "\\n";
        break;
      case '\r':
        escaped = "\\r";
        break;
      case '\t':
        escaped = "\\t";
        break;
      case '\b':
        escaped = "\\b";
        break;
      case '\f':
        escaped = "\\f";
        break;
      default:
        if (byte < 0x20) {
          escaped = std::string("\\u00") + kHex[byte >> 4] + kHex[byte & 15];
        } else if (byte >= 0x80) {
          escaped = "\\ufffd";  // alone, it starts no valid sequence
        } else {
          escaped = std::string(1, c);
        }
    }
    for (size_t at = 0; at < 20; ++at) {
      std::string value(20, 'a');
      value[at] = c;
      std::string out;
      AppendJsonString(out, value);
      EXPECT_EQ(out, '"' + std::string(at, 'a') + escaped +
                         std::string(19 - at, 'a') + '"')
          << "byte " << byte << " at " << at;
    }
  }
  // A valid sequence across a block's end goes out as it is.
  for (size_t at = 0; at < 14; ++at) {
    const std::string value =
        std::string(at, 'a') + "\xf0\x9f\x98\x80" + std::string(9, 'b');
    std::string out;
    AppendJsonString(out, value);
    EXPECT_EQ(out, '"' + value + '"') << "at " << at;
  }
}

TEST(JsonWriterTest, SeparatedTopLevelValuesMakeNdjson) {
  JsonWriter w;
  for (int i = 0; i < 3; ++i) {
    w.BeginObject();
    w.Key("n");
    w.Int(i);
    w.EndObject();
    w.Separator('\n');
  }
  EXPECT_EQ(w.str(), "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
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
