#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/csv.h"

namespace segd {
namespace {

using Ids = std::vector<std::string>;

Ids ReadOk(std::string_view text) {
  Result<Ids> ids = ReadCsvIds(text);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  return ids.ok() ? *ids : Ids{};
}

// ReadCsvIds: finding the id column.

TEST(ReadCsvIdsTest, TakesTheIdColumnWhereverItIs) {
  EXPECT_EQ(ReadOk("name,id,city\nAnn,a1,Oslo\nBob,b2,Rome\n"),
            (Ids{"a1", "b2"}));
}

TEST(ReadCsvIdsTest, FoldsCaseOfTheIdHeader) {
  EXPECT_EQ(ReadOk("name,ID\nAnn,a1\n"), (Ids{"a1"}));
  EXPECT_EQ(ReadOk("name,iD\nAnn,a1\n"), (Ids{"a1"}));
}

TEST(ReadCsvIdsTest, IgnoresSpacesAroundTheIdHeader) {
  EXPECT_EQ(ReadOk("name, Id \nAnn,a1\n"), (Ids{"a1"}));
  EXPECT_EQ(ReadOk("name,\" id \"\nAnn,a1\n"), (Ids{"a1"}));
}

TEST(ReadCsvIdsTest, TakesTheFirstOfSeveralIdColumns) {
  EXPECT_EQ(ReadOk("x,id,Id\n1,a,b\n"), (Ids{"a"}));
}

TEST(ReadCsvIdsTest, FallsBackToTheFirstColumn) {
  EXPECT_EQ(ReadOk("profile,name\np1,Ann\np2,Bob\n"), (Ids{"p1", "p2"}));
  // "ident" is not "id".
  EXPECT_EQ(ReadOk("user,ident\np1,x\n"), (Ids{"p1"}));
}

TEST(ReadCsvIdsTest, ReadsASingleColumn) {
  EXPECT_EQ(ReadOk("id\na\nb\nc"), (Ids{"a", "b", "c"}));
}

TEST(ReadCsvIdsTest, KeepsDuplicatesInFileOrder) {
  EXPECT_EQ(ReadOk("id\nb\na\nb\n"), (Ids{"b", "a", "b"}));
}

// ReadCsvIds: RFC 4180 cells.

TEST(ReadCsvIdsTest, ReadsQuotedCellsWithCommasQuotesAndLineEnds) {
  EXPECT_EQ(ReadOk("id,note\n"
                   "\"a,b\",x\n"
                   "\"say \"\"hi\"\"\",x\n"
                   "\"two\nlines\",x\n"
                   "\"cr\r\nlf\",x\n"
                   "\"\"\"\",x\n"),
            (Ids{"a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "\""}));
}

TEST(ReadCsvIdsTest, ReadsQuotedCellsInOtherColumns) {
  EXPECT_EQ(ReadOk("note,id\n\"x, \"\"y\"\"\nz\",a1\n\"\",a2\n"),
            (Ids{"a1", "a2"}));
}

TEST(ReadCsvIdsTest, ReadsCrlfAndLfAndMixedLineEnds) {
  EXPECT_EQ(ReadOk("id,x\r\na,1\r\nb,2\r\n"), (Ids{"a", "b"}));
  EXPECT_EQ(ReadOk("id,x\na,1\nb,2\n"), (Ids{"a", "b"}));
  EXPECT_EQ(ReadOk("id,x\r\na,1\nb,2\r\n"), (Ids{"a", "b"}));
}

TEST(ReadCsvIdsTest, TakesALoneCrAsALineEnd) {
  EXPECT_EQ(ReadOk("id,x\ra,1\rb,2\r"), (Ids{"a", "b"}));
}

TEST(ReadCsvIdsTest, AcceptsAMissingFinalLineEnd) {
  EXPECT_EQ(ReadOk("id\r\na\r\nb"), (Ids{"a", "b"}));
  EXPECT_EQ(ReadOk("id\n\"a\""), (Ids{"a"}));
  EXPECT_EQ(ReadOk("x,id\n1,\"a\""), (Ids{"a"}));
}

TEST(ReadCsvIdsTest, IgnoresALeadingBom) {
  EXPECT_EQ(ReadOk("\xEF\xBB\xBFid,x\na,1\n"), (Ids{"a"}));
  // The BOM would otherwise hide the `id` header of the first column.
  EXPECT_EQ(ReadOk("\xEF\xBB\xBFx,id\n1,a\n"), (Ids{"a"}));
}

TEST(ReadCsvIdsTest, SkipsBlankLines) {
  EXPECT_EQ(ReadOk("\n\r\nx,id\n\n1,a\r\n\r\n   \n2,b\n\n"), (Ids{"a", "b"}));
}

TEST(ReadCsvIdsTest, SkipsEmptyIdCells) {
  EXPECT_EQ(ReadOk("x,id\n1,\n2,a\n3,\"\"\n4, \n"), (Ids{"a"}));
  EXPECT_EQ(ReadOk("id,x\n,1\na,2\n"), (Ids{"a"}));
}

// RFC 4180: spaces are part of a field. Around a quoted cell they are
// dropped, as most writers put none there.
TEST(ReadCsvIdsTest, KeepsSpacesOfUnquotedCellsAndDropsThemAroundQuotes) {
  EXPECT_EQ(ReadOk("x, id\n1,  a  \n2, \" b \" \n3,c\n"),
            (Ids{"  a  ", " b ", "c"}));
}

TEST(ReadCsvIdsTest, KeepsAQuoteInsideAnUnquotedCell) {
  EXPECT_EQ(ReadOk("id\nab\"c\n"), (Ids{"ab\"c"}));
}

TEST(ReadCsvIdsTest, KeepsUtf8Ids) {
  EXPECT_EQ(ReadOk("id\nZürich\nअनन्या\n"), (Ids{"Zürich", "अनन्या"}));
}

TEST(ReadCsvIdsTest, HeaderOnlyHasNoIds) {
  EXPECT_EQ(ReadOk("id,name\n"), Ids{});
  EXPECT_EQ(ReadOk("id,name"), Ids{});
  EXPECT_EQ(ReadOk("id\r\n\r\n\r\n"), Ids{});
}

// ReadCsvIds: errors.

// A CSV error names its line in the message; its path is "", as a body
// with no JSON pointer has.
void ExpectMalformedAt(std::string_view text, std::string_view line) {
  Result<Ids> ids = ReadCsvIds(text);
  ASSERT_FALSE(ids.ok()) << "accepted: " << text;
  EXPECT_EQ(ids.status().code(), ErrorCode::kMalformed);
  EXPECT_TRUE(ids.status().message().starts_with(std::string(line) + ": "))
      << ids.status().ToString();
  EXPECT_EQ(ids.status().path(), "");
}

TEST(ReadCsvIdsTest, EmptyBodyIsAnError) {
  ExpectMalformedAt("", "line 1");
  ExpectMalformedAt("\xEF\xBB\xBF", "line 1");
}

TEST(ReadCsvIdsTest, BlankBodyHasNoHeader) {
  ExpectMalformedAt("\n\r\n  \n", "line 1");
}

TEST(ReadCsvIdsTest, UnterminatedQuoteNamesTheLineItOpens) {
  ExpectMalformedAt("id\na\n\"b\nc\nd", "line 3");
  ExpectMalformedAt("\"id", "line 1");
  ExpectMalformedAt("id,x\r\na,1\r\nb,\"2\r\n", "line 3");
}

TEST(ReadCsvIdsTest, TextAfterAClosingQuoteIsAnError) {
  ExpectMalformedAt("id\na\n\"a\"b\n", "line 3");
  ExpectMalformedAt("id,x\n\"two\nlines\"x,1\n", "line 3");
  ExpectMalformedAt("\"id\" x\na\n", "line 1");
}

TEST(ReadCsvIdsTest, RowTooShortForTheIdColumnIsAnError) {
  Result<Ids> ids = ReadCsvIds("name,id\nAnn,a1\nBob\n");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), ErrorCode::kMalformed);
  EXPECT_TRUE(ids.status().message().starts_with("line 3: "));
  EXPECT_NE(ids.status().message().find("column 2"), std::string::npos)
      << ids.status().message();
}

TEST(ReadCsvIdsTest, LineNumbersCountLineEndsInsideQuotes) {
  ExpectMalformedAt("x,id\n\"a\nb\",1\nshort\n", "line 4");
}

// AppendCsvCell.

std::string Cell(std::string_view value) {
  std::string out;
  AppendCsvCell(out, value);
  return out;
}

TEST(AppendCsvCellTest, WritesPlainValuesAsTheyAre) {
  EXPECT_EQ(Cell("abc"), "abc");
  EXPECT_EQ(Cell(""), "");
  EXPECT_EQ(Cell("a b"), "a b");
  EXPECT_EQ(Cell("a\tb"), "a\tb");
  EXPECT_EQ(Cell("Zürich"), "Zürich");
}

TEST(AppendCsvCellTest, QuotesCommasQuotesAndLineEnds) {
  EXPECT_EQ(Cell("a,b"), "\"a,b\"");
  EXPECT_EQ(Cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Cell("\""), "\"\"\"\"");
  EXPECT_EQ(Cell("a\nb"), "\"a\nb\"");
  EXPECT_EQ(Cell("a\rb"), "\"a\rb\"");
}

TEST(AppendCsvCellTest, QuotesLeadingAndTrailingSpaces) {
  EXPECT_EQ(Cell(" a"), "\" a\"");
  EXPECT_EQ(Cell("a "), "\"a \"");
  EXPECT_EQ(Cell(" "), "\" \"");
}

TEST(AppendCsvCellTest, AppendsWithoutClearing) {
  std::string out = "x,";
  AppendCsvCell(out, "a,b");
  EXPECT_EQ(out, "x,\"a,b\"");
}

TEST(AppendCsvHeaderTest, WritesNamesAsCellsAndCrlf) {
  std::string out;
  AppendCsvHeader({"id", "city", "a,b"}, out);
  EXPECT_EQ(out, "id,city,\"a,b\"\r\n");
}

// AppendCsvRows.

std::string Rows(std::string_view ndjson,
                 const std::vector<std::string>& columns) {
  std::string out;
  Status status = AppendCsvRows(ndjson, columns, out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

TEST(AppendCsvRowsTest, WritesOneRowPerObjectInColumnOrder) {
  EXPECT_EQ(Rows("{\"id\":\"a\",\"city\":\"Oslo\"}\n"
                 "{\"id\":\"b\",\"city\":\"Rome\"}\n",
                 {"id", "city"}),
            "a,Oslo\r\nb,Rome\r\n");
}

TEST(AppendCsvRowsTest, QuotesStringsThatNeedIt) {
  EXPECT_EQ(Rows(R"({"id":"a,b","note":"say \"hi\"\n","pad":" x "})",
                 {"id", "note", "pad"}),
            "\"a,b\",\"say \"\"hi\"\"\n\",\" x \"\r\n");
}

TEST(AppendCsvRowsTest, UnescapesJsonStrings) {
  EXPECT_EQ(Rows(R"({"id":"caf\u00e9\t\\"})", {"id"}), "café\t\\\r\n");
}

TEST(AppendCsvRowsTest, WritesNumbersAsTheirJsonText) {
  EXPECT_EQ(Rows(R"({"id":"a","n":42,"m":-7,"d":1.5,"e":2.50,"f":1e-7,)"
                 R"("big":123456789012345678901234567890})",
                 {"id", "n", "m", "d", "e", "f", "big"}),
            "a,42,-7,1.5,2.50,1e-7,123456789012345678901234567890\r\n");
}

TEST(AppendCsvRowsTest, WritesBooleansAsTheirJsonText) {
  EXPECT_EQ(Rows(R"({"id":"a","t":true,"f":false})", {"id", "t", "f"}),
            "a,true,false\r\n");
}

TEST(AppendCsvRowsTest, WritesNullAndMissingKeysAsEmptyCells) {
  EXPECT_EQ(Rows(R"({"id":"a","x":null})", {"id", "x", "y"}), "a,,\r\n");
  EXPECT_EQ(Rows(R"({"x":1})", {"id", "x", "y"}), ",1,\r\n");
}

TEST(AppendCsvRowsTest, WritesArraysAndObjectsAsMinifiedJsonCells) {
  EXPECT_EQ(
      Rows(R"({"id":"a","tags":[ "x", "y" ],"addr":{ "city" : "Oslo" },)"
           R"("one":[1],"none":[],"empty":{},"nested":{"a":[1, {"b":null}]}})",
           {"id", "tags", "addr", "one", "none", "empty", "nested"}),
      "a,\"[\"\"x\"\",\"\"y\"\"]\",\"{\"\"city\"\":\"\"Oslo\"\"}\",[1],[],{},"
      "\"{\"\"a\"\":[1,{\"\"b\"\":null}]}\"\r\n");
}

TEST(AppendCsvRowsTest, KeepsSpacesInsideStringsOfMinifiedJson) {
  EXPECT_EQ(Rows(R"({"tags": ["a b" , "c"]})", {"tags"}),
            "\"[\"\"a b\"\",\"\"c\"\"]\"\r\n");
}

TEST(AppendCsvRowsTest, FollowsColumnsWhateverTheKeyOrder) {
  EXPECT_EQ(Rows(R"({"b":2,"extra":0,"a":1,"id":"x"})", {"id", "a", "b"}),
            "x,1,2\r\n");
}

TEST(AppendCsvRowsTest, SkipsBlankLinesAndAcceptsCrlf) {
  EXPECT_EQ(Rows("\n{\"id\":\"a\"}\r\n\r\n  \n{\"id\":\"b\"}", {"id"}),
            "a\r\nb\r\n");
  EXPECT_EQ(Rows("", {"id"}), "");
}

TEST(AppendCsvRowsTest, AppendsAfterAHeader) {
  std::string out;
  AppendCsvHeader({"id", "n"}, out);
  ASSERT_TRUE(AppendCsvRows(R"({"id":"a","n":1})", {"id", "n"}, out).ok());
  EXPECT_EQ(out, "id,n\r\na,1\r\n");
}

TEST(AppendCsvRowsTest, LineThatIsNotAnObjectIsAnInternalError) {
  for (std::string_view bad :
       {"[1,2]", "\"id\"", "42", "{\"id\":", "{\"id\":\"a\"} x", "{\"id\":tru}",
        "{\"id\":\"a\",}", "not json"}) {
    std::string out = "keep";
    Status status =
        AppendCsvRows(std::string("{\"id\":\"ok\"}\n") + std::string(bad) +
                          "\n{\"id\":\"later\"}\n",
                      {"id"}, out);
    ASSERT_FALSE(status.ok()) << "accepted: " << bad;
    EXPECT_EQ(status.code(), ErrorCode::kInternal);
    EXPECT_TRUE(status.message().starts_with("line 2: ")) << bad;
    EXPECT_EQ(out, "keep") << bad;
  }
}

TEST(AppendCsvRowsTest, ReusesItsParserAcrossCalls) {
  std::string long_line = R"({"id":")" + std::string(100000, 'x') + R"("})";
  EXPECT_EQ(Rows(long_line, {"id"}), std::string(100000, 'x') + "\r\n");
  EXPECT_EQ(Rows(R"({"id":"short"})", {"id"}), "short\r\n");
}

// Round trips.

TEST(CsvRoundTripTest, CellsWrittenByAppendCsvCellReadBack) {
  const Ids values = {"plain",    "a,b",   "say \"hi\"", "two\nlines",
                      "cr\r\nlf", " lead", "trail ",     " ",
                      "\"",       "\"\"",  "x\"y",       "Zürich",
                      "lone\rcr", "tab\t", ",",          "\"a\"b"};
  for (bool crlf : {false, true}) {
    std::string csv = crlf ? "name,ID,note\r\n" : "name,ID,note\n";
    for (const std::string& value : values) {
      AppendCsvCell(csv, "n");
      csv.push_back(',');
      AppendCsvCell(csv, value);
      csv.push_back(',');
      AppendCsvCell(csv, value);  // a tricky cell after the id, too
      csv.append(crlf ? "\r\n" : "\n");
    }
    EXPECT_EQ(ReadOk(csv), values) << csv;
  }
}

TEST(CsvRoundTripTest, ExportedIdsReadBack) {
  std::string csv;
  std::vector<std::string> columns = {"id", "tags"};
  AppendCsvHeader(columns, csv);
  ASSERT_TRUE(AppendCsvRows("{\"id\":\"a,1\",\"tags\":[\"x\",\"y\"]}\n"
                            "{\"id\":\" b\\\"\",\"tags\":[]}\n",
                            columns, csv)
                  .ok());
  EXPECT_EQ(ReadOk(csv), (Ids{"a,1", " b\""}));
}

}  // namespace
}  // namespace segd
