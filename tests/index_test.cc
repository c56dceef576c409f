// Index structures against their plain twins: the string dictionary and its
// trigram search against a scan, shard word loading against CRoaring's own
// operations, and the profile encoding round trip.
#include "index/index.h"

#include <gtest/gtest.h>
#include <roaring/containers/containers.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/ascii.h"
#include "base/time.h"
#include "index/bitmap.h"
#include "index/int_keys.h"
#include "index/profile_codec.h"
#include "index/real_keys.h"
#include "index/string_index.h"
#include "index/substring.h"

namespace segd {
namespace {

std::string RandomWord(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] = "abcAB.@-12é";
  std::string s;
  const size_t n = rng() % 9;
  for (size_t i = 0; i < n; ++i)
    s.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return s;
}

// ContainsSet of `needle` against a scan of `values` (lower case already).
void ExpectContainsSetAgreesWithAScan(const StringIndex& index,
                                      const std::vector<std::string>& values,
                                      const std::string& needle) {
  std::set<std::string> want, got;
  for (const std::string& v : values) {
    if (v.find(needle) != std::string::npos) want.insert(v);
  }
  const ValueSet set = index.ContainsSet(needle);
  for (ValueId id = 0; id < index.value_count(); ++id) {
    if (set.bits[id >> 6] >> (id & 63) & 1) got.emplace(index.folded(id));
  }
  EXPECT_EQ(got, want) << needle;
  EXPECT_EQ(set.count, want.size()) << needle;
}

// With the lists built in one slice and in a hundred (a budget of 4 KiB,
// so slice edges fall all over the trigrams).
class TrigramSlices : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(
    OneAndMany, TrigramSlices,
    ::testing::Values(StringIndex::Builder::kTrigramSliceBytes, 4096));

TEST_P(TrigramSlices, TrigramSearchAgreesWithAScan) {
  std::mt19937_64 rng(3);
  StringIndex::Builder builder(GetParam());
  std::vector<std::string> values;
  for (uint32_t row = 0; row < 20000; ++row) {
    values.push_back(RandomWord(rng));
    builder.Add(row, values.back());
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  ASSERT_TRUE(index->has_trigrams());
  for (int probe = 0; probe < 300; ++probe) {
    const std::string needle = FoldAscii(RandomWord(rng));
    std::set<std::string> want_contains, want_prefix, got_contains, got_prefix;
    for (const std::string& v : values) {
      const std::string f = FoldAscii(v);
      if (f.find(needle) != std::string::npos) want_contains.insert(f);
      if (f.rfind(needle, 0) == 0) want_prefix.insert(f);
    }
    for (ValueId id : index->Contains(needle))
      got_contains.emplace(index->folded(id));
    const ValueSet prefixed = index->StartsWith(needle);
    for (ValueId id = 0; id < index->value_count(); ++id) {
      if (prefixed.bits[id >> 6] >> (id & 63) & 1) {
        got_prefix.emplace(index->folded(id));
      }
    }
    EXPECT_EQ(prefixed.count, want_prefix.size()) << needle;
    EXPECT_EQ(got_contains, want_contains) << needle;
    EXPECT_EQ(got_prefix, want_prefix) << needle;
    if (needle.empty()) continue;
    std::set<std::string> got_set;
    const ValueSet set = index->ContainsSet(needle);
    for (ValueId id = 0; id < index->value_count(); ++id) {
      if (set.bits[id >> 6] >> (id & 63) & 1)
        got_set.emplace(index->folded(id));
    }
    EXPECT_EQ(got_set, want_contains) << needle;
    EXPECT_EQ(set.count, want_contains.size()) << needle;
  }
}

// A dictionary large enough for a trigram index whose values are all
// under three bytes has no trigram at all: the build must still finish at
// once (it once ran a pass per possible trigram, hours for this one, which
// ctest's timeout catches), and searches fall back to the text.
TEST(StringIndexTest, TrigramIndexOfShortValuesOnly) {
  StringIndex::Builder builder;
  std::vector<std::string> values;
  for (char first = '!'; first <= '~'; ++first) {
    if (first >= 'A' && first <= 'Z') continue;  // folded into a..z
    for (int second = 0x80; second <= 0xFF; ++second) {
      values.push_back(std::string{first, static_cast<char>(second)});
    }
  }
  for (uint32_t row = 0; row < values.size(); ++row) {
    builder.Add(row, values[row]);
  }
  builder.Flush();
  ASSERT_EQ(builder.value_count(), values.size());
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  EXPECT_FALSE(index->has_trigrams());
  EXPECT_EQ(index->ContainsSet("a").count, 128u);
  EXPECT_EQ(index->ContainsSet("a\x80").count, 1u);
  EXPECT_EQ(index->StartsWith("z").count, 128u);
}

// Trigram lists too long ever to be followed are not kept. Needles whose
// rarest trigram, or second rarest, lost its list still find every value,
// through Contains and ContainsSet alike.
TEST_P(TrigramSlices, LongTrigramListsAreLeftOutAndSearchesStillAgree) {
  StringIndex::Builder builder(GetParam());
  std::vector<std::string> values;
  const char* domains[] = {"@gmail.com", "@yahoo.co.in", "@acme.io"};
  for (uint32_t row = 0; row < 6000; ++row) {
    values.push_back("u" + std::to_string(row * 7 % 6000) + domains[row % 3]);
    builder.Add(row, values.back());
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  ASSERT_TRUE(index->has_trigrams());
  // Keeping every list would take a byte or more per (value, trigram) and
  // 16 bytes per list (key, count, offset).
  std::set<std::pair<std::string, std::string>> pairs;
  std::set<std::string> trigrams;
  for (const std::string& v : values) {
    for (size_t i = 0; i + 3 <= v.size(); ++i) {
      pairs.emplace(v, v.substr(i, 3));
      trigrams.insert(v.substr(i, 3));
    }
  }
  EXPECT_LT(index->MemoryUse().trigrams,
            pairs.size() / 2 + 16 * trigrams.size());
  for (const std::string needle :
       {"gma", "gmail.com", ".co", "u12@", "u1@g", "12@ya", "u599", "1@acme.io",
        "o.in", "zzz", "u5999@yahoo.co.in"}) {
    std::set<std::string> want, got;
    for (const std::string& v : values) {
      if (v.find(needle) != std::string::npos) want.insert(v);
    }
    for (ValueId id : index->Contains(needle)) got.emplace(index->folded(id));
    EXPECT_EQ(got, want) << needle;
    EXPECT_GE(index->ContainsCandidates(needle), want.size()) << needle;
    ExpectContainsSetAgreesWithAScan(*index, values, needle);
  }
}

// A trigram list is kept while it holds at most 1/64 of the values: a
// needle whose rarest list holds exactly that many goes by the trigrams,
// one whose list holds one more scans the text, and both find every value.
TEST(StringIndexTest, TrigramListsAreKeptUpToASixtyFourthOfTheValues) {
  constexpr uint32_t kValues = 64 * 100;
  StringIndex::Builder builder;
  std::vector<std::string> values;
  for (uint32_t row = 0; row < kValues; ++row) {
    const std::string id = "id" + std::to_string(row);
    values.push_back(row < 100 ? "qqq" + id : row < 201 ? "zzz" + id : id);
    builder.Add(row, values.back());
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  const uint64_t scan = index->ContainsSetBytes("ab");  // under 3 bytes
  EXPECT_EQ(index->ContainsCandidates("qqq"), 100u);
  EXPECT_LT(index->ContainsSetBytes("qqq"), scan);
  EXPECT_EQ(index->ContainsSetBytes("zzz"), scan);
  EXPECT_EQ(index->ContainsSet("qqq").count, 100u);
  EXPECT_EQ(index->ContainsSet("zzz").count, 101u);
  EXPECT_EQ(index->Contains("zzzid200").size(), 1u);
  EXPECT_EQ(index->Contains("qqqid99").size(), 1u);
}

// A trigram a value holds many times counts each time on its way to being
// left out; the candidates a needle is estimated at never exceed the values.
TEST(StringIndexTest, CandidatesNeverExceedTheValues) {
  StringIndex::Builder builder;
  std::vector<std::string> values;
  for (uint32_t row = 0; row < 1000; ++row) {
    values.push_back(std::string(20, 'a') + std::to_string(row));
    builder.Add(row, values.back());
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  EXPECT_EQ(index->ContainsCandidates("aaa"), 1000u);
  EXPECT_EQ(index->ContainsCandidates("aaaa"), 1000u);
  EXPECT_LE(index->ContainsCandidates("a99"), 1000u);
  for (const std::string needle : {"aaa", "a99", "aaaa1"}) {
    ExpectContainsSetAgreesWithAScan(*index, values, needle);
  }
}

// A needle of letters only inside just one of the values' letter runs has
// its occurrences from that run; each value counts once, however often it
// holds the run, and as often as it occurs. Anything else is left to a scan.
TEST(StringIndexTest, LetterRunsCountTheValuesOfTheOneRunHoldingANeedle) {
  std::mt19937_64 rng(31);
  const char* names[] = {"asha", "rahul", "patil", "spatil", "gmail"};
  const char* domains[] = {"@gmail.com", "@yahoo.co.in", "@mail.io"};
  StringIndex::Builder builder;
  std::vector<std::string> values;
  std::map<std::string, uint64_t> occurrences;  // by folded value
  for (uint32_t row = 0; row < 9000; ++row) {
    // Values repeat across rows; some hold a run twice (gmail.x@gmail.com).
    std::string v = std::string(names[rng() % 5]) + "." +
                    std::to_string(rng() % 2000) + domains[rng() % 3];
    if (rng() % 3 == 0) v[0] = static_cast<char>(std::toupper(v[0]));
    builder.Add(row, v);
    values.push_back(FoldAscii(v));
    ++occurrences[values.back()];
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  auto scan = [&](const std::string& needle) {
    uint64_t n = 0;
    for (const auto& [v, count] : occurrences) {
      if (v.find(needle) != std::string::npos) n += count;
    }
    return n;
  };
  // One run each: counted from it.
  for (const std::string needle :
       {"gmail", "gmai", "yahoo", "asha", "rahu", "com", "io", "zzz"}) {
    const std::optional<uint64_t> n = index->RunOccurrences(needle);
    ASSERT_TRUE(n.has_value()) << needle;
    EXPECT_EQ(*n, scan(needle)) << needle;
  }
  // Two runs ("patil", "spatil"; "mail", "gmail"), or not letters only.
  for (const std::string needle :
       {"patil", "atil", "mail", "ail", "a", "l.1", "@gmail", "1", ""}) {
    EXPECT_FALSE(index->RunOccurrences(needle).has_value()) << needle;
  }
  // Whatever the runs say agrees with ContainsSet.
  for (int probe = 0; probe < 200; ++probe) {
    const std::string& v = values[rng() % values.size()];
    const size_t at = rng() % v.size();
    const std::string needle = v.substr(at, 1 + rng() % 6);
    if (const std::optional<uint64_t> n = index->RunOccurrences(needle)) {
      EXPECT_EQ(*n, index->ContainsSet(needle).occurrences) << needle;
      EXPECT_EQ(*n, scan(needle)) << needle;
    }
  }
}

// Needles made of common trigrams send ContainsSet to a scan of the
// dictionary text, where a match may also straddle two adjacent values.
TEST(StringIndexTest, DictionaryScanFindsWholeMatchesOnly) {
  StringIndex::Builder builder;
  std::vector<std::string> values;
  const char* domains[] = {"@gmail.com", "@yahoo.co.in", "@globex.com"};
  for (uint32_t row = 0; row < 30000; ++row) {
    values.push_back("user" + std::to_string(row * 7919 % 100003) +
                     domains[row % 3]);
    builder.Add(row, values.back());
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  for (const std::string needle :
       {"gmail", "@", "l.co", "comuser", "inuser1", "o.co.in", "user12",
        "9@gmail.com", "xyz", "m", "user1234@globex.com"}) {
    ExpectContainsSetAgreesWithAScan(*index, values, needle);
  }
}

// Every position of texts of every length, for needles shorter and longer
// than what the vector kernels compare at once, in a small alphabet so that
// matches and near misses are common.
TEST(SubstringTest, MatchStartsAgreeWithACompareAtEveryPosition) {
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t size = rng() % 300;
    std::string text(size, 'a');
    for (char& c : text) c = "ab"[rng() % 2];
    const size_t k = 1 + rng() % 40;
    std::string needle(k, 'a');
    for (char& c : needle) c = rng() % 8 == 0 ? 'b' : 'a';
    // Dirty words: the kernel must set and clear every bit itself.
    std::vector<uint64_t> starts(MatchStartWords(size), ~uint64_t{0});
    MarkMatchStarts(text.data(), size, needle, starts.data());
    for (size_t p = 0; p < 64 * starts.size(); ++p) {
      const bool want = p + k <= size && text.compare(p, k, needle) == 0;
      ASSERT_EQ(starts[p / 64] >> (p % 64) & 1, want)
          << "size " << size << " needle " << needle << " at " << p;
    }
  }
}

// Values longer than one window of start bits, and needles longer than the
// vector kernels' probes, through the dictionary scan.
TEST(StringIndexTest, DictionaryScanOfLongValuesAndNeedles) {
  std::mt19937_64 rng(23);
  StringIndex::Builder builder;
  std::vector<std::string> values;
  for (uint32_t row = 0; row < 20000; ++row) {
    std::string v(rng() % 120, 'x');
    for (char& c : v) c = "xy"[rng() % 8 == 0];
    values.push_back(v);
    builder.Add(row, v);
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/true);
  for (const std::string& needle : std::vector<std::string>{
           "x", "y", "yy", "xxxxxxxxxxxxxxxxxxxxxxxxy",
           "yxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", std::string(70, 'x'),
           std::string(100, 'x') + "y", "xyxyx"}) {
    ExpectContainsSetAgreesWithAScan(*index, values, needle);
  }
}

// 6000 rows make over 6000 values: past the first few thousand, a large
// dictionary's Adds wait a few Adds for their hash slot, and a repeat
// within a row must still count once.
TEST(StringIndexTest, PostingsHoldEveryRowOnceAndFoldCase) {
  StringIndex::Builder builder;
  constexpr uint32_t kRows = 6000;
  for (uint32_t row = 0; row < kRows; ++row) {
    builder.Add(row, row % 2 ? "Pune" : "PUNE");
    if (row % 10 == 0) builder.Add(row, "pune");  // repeat within a row
    builder.Add(row, "r" + std::to_string(row));
    if (row % 10 == 0) builder.Add(row, "Pune");  // and after another value
  }
  std::unique_ptr<StringIndex> index = std::move(builder).Finish(false);
  const std::optional<ValueId> pune = index->Find("pune");
  ASSERT_TRUE(pune.has_value());
  EXPECT_EQ(index->display(*pune), "PUNE");  // the first spelling
  const Posting& p = index->posting(*pune);
  ASSERT_NE(p.bitmap, nullptr);  // common values get a bitmap
  EXPECT_EQ(p.cardinality, kRows);
  EXPECT_EQ(roaring_bitmap_get_cardinality(p.bitmap), kRows);
  const Posting& rare = index->posting(*index->Find("r7"));
  EXPECT_EQ(rare.bitmap, nullptr);
  ASSERT_EQ(rare.rows.size(), 1u);
  EXPECT_EQ(rare.rows[0], 7u);
  EXPECT_FALSE(index->Find("Pune").has_value());  // keys are folded
}

// A dictionary whose every value has one row (emails, phones) keeps each
// value's row and no running count of rows: postings, range counts and set
// occurrences still agree with the rows added, and the postings take 4
// bytes a value.
TEST(StringIndexTest, ValuesOfOneRowEachKeepTheirRowAndNoRunningCount) {
  for (const bool with_trigrams : {false, true}) {
    std::mt19937_64 rng(41);
    StringIndex::Builder builder;
    std::map<std::string, uint32_t> row_of;
    for (uint32_t row = 0; row < 7000; ++row) {
      if (row % 3 == 2) continue;  // a row without the attribute
      std::string v = RandomWord(rng) + std::to_string(row) + "@x.in";
      builder.Add(row, v);
      row_of.emplace(FoldAscii(v), row);
    }
    std::unique_ptr<StringIndex> index =
        std::move(builder).Finish(with_trigrams);
    ASSERT_EQ(index->value_count(), row_of.size());
    for (const auto& [f, row] : row_of) {
      const ValueId id = *index->Find(f);
      const Posting p = index->posting(id);
      ASSERT_EQ(p.bitmap, nullptr);
      ASSERT_EQ(p.cardinality, 1u) << f;
      ASSERT_EQ(std::vector<uint32_t>(p.rows.begin(), p.rows.end()),
                std::vector<uint32_t>{row})
          << f;
    }
    for (const std::string prefix : {"", "a", "b", "zz"}) {
      uint64_t values = 0;
      for (const auto& [f, row] : row_of) values += f.rfind(prefix, 0) == 0;
      const auto [first, last] = index->PrefixRange(prefix);
      EXPECT_EQ(index->OccurrencesIn(first, last), values) << prefix;
      EXPECT_EQ(index->StartsWith(prefix).occurrences, values) << prefix;
    }
    // Short needles scan; longer ones follow the trigrams.
    std::vector<std::string> needles = {
        "a", "1@", "ab", "99", "123@", "@x.in", row_of.begin()->first};
    for (const std::string& needle : needles) {
      uint64_t values = 0;
      for (const auto& [f, row] : row_of) {
        values += f.find(needle) != std::string::npos;
      }
      const ValueSet set = index->ContainsSet(needle);
      EXPECT_EQ(set.count, values) << needle;
      EXPECT_EQ(set.occurrences, values) << needle;
    }
    if (with_trigrams) {
      EXPECT_EQ(index->occurrence_count(), row_of.size());
    }
    EXPECT_LE(index->MemoryUse().postings,
              row_of.size() * sizeof(uint32_t) + 64);
  }
}

// Values that tie on their first bytes: shared prefixes of every length up
// to past the depth where the sort turns to string compares, values that
// are prefixes of others, zero bytes (which pad a short value's last eight
// bytes) and bytes above 0x7F. Ids must ascend with the text all the same.
TEST(StringIndexTest, IdsAscendThroughLongSharedPrefixesAndZeroBytes) {
  std::mt19937_64 rng(5);
  std::vector<std::string> values;
  const std::string shared(150, 'p');  // past 64, where compares take over
  for (size_t length = 0; length <= shared.size(); ++length) {
    const std::string prefix = shared.substr(0, length);
    for (const std::string& tail : std::vector<std::string>{
             "", "a", "b", "ab", std::string(1, '\0'), std::string(2, '\0'),
             std::string("\0a", 2), "\xC3\xA9", "\xFF"}) {
      values.push_back(prefix + tail);
    }
  }
  std::shuffle(values.begin(), values.end(), rng);
  StringIndex::Builder builder;
  std::set<std::string> distinct;
  for (uint32_t row = 0; row < values.size(); ++row) {
    builder.Add(row, values[row]);
    distinct.insert(values[row]);
  }
  std::unique_ptr<StringIndex> index =
      std::move(builder).Finish(/*with_trigrams=*/false);
  ASSERT_EQ(index->value_count(), distinct.size());
  ValueId id = 0;
  for (const std::string& want : distinct) {
    ASSERT_EQ(index->folded(id), want) << "id " << id;
    ASSERT_EQ(index->Find(want), id);
    ++id;
  }
}

// Ids are renumbered at the end of the build to follow the folded text:
// every part of the index keyed by id (text, spellings, postings, running
// counts, occurrences) must follow them.
TEST(StringIndexTest, IdsAscendWithTheFoldedTextAndEverythingFollows) {
  for (const bool with_trigrams : {false, true}) {
    std::mt19937_64 rng(11);
    StringIndex::Builder builder;
    std::map<std::string, std::string> first_spelling;
    std::map<std::string, std::vector<uint32_t>> rows_of;
    std::vector<std::optional<std::string>> row_value;
    for (uint32_t row = 0; row < 12000; ++row) {
      if (row % 5 == 4) {  // a row without the attribute
        row_value.emplace_back();
        continue;
      }
      // A few common values (bitmaps) among many rare ones (row lists),
      // in mixed case, first seen in no particular order.
      std::string v = rng() % 4 == 0 ? "Common" + std::to_string(rng() % 5)
                                     : RandomWord(rng);
      if (rng() % 2) v[0] = static_cast<char>(std::toupper(v[0]));
      builder.Add(row, v);
      const std::string f = FoldAscii(v);
      first_spelling.emplace(f, v);
      rows_of[f].push_back(row);
      row_value.push_back(f);
    }
    std::unique_ptr<StringIndex> index =
        std::move(builder).Finish(with_trigrams);
    ASSERT_EQ(index->value_count(), rows_of.size());
    for (ValueId id = 0; id + 1 < index->value_count(); ++id) {
      ASSERT_LT(index->folded(id), index->folded(id + 1));
    }
    for (const auto& [f, rows] : rows_of) {
      const std::optional<ValueId> id = index->Find(f);
      ASSERT_TRUE(id.has_value()) << f;
      EXPECT_EQ(index->folded(*id), f);
      EXPECT_EQ(index->display(*id), first_spelling[f]) << f;
      EXPECT_EQ(index->OccurrencesIn(*id, *id + 1), rows.size()) << f;
      const Posting p = index->posting(*id);
      EXPECT_EQ(p.cardinality, rows.size()) << f;
      std::vector<uint32_t> got(p.rows.begin(), p.rows.end());
      if (p.bitmap != nullptr) {
        got.resize(roaring_bitmap_get_cardinality(p.bitmap));
        roaring_bitmap_to_uint32_array(p.bitmap, got.data());
      }
      EXPECT_EQ(got, rows) << f;
    }
    for (const std::string prefix :
         {"", "a", "common", "common3", "b.", "zz"}) {
      const auto [first, last] = index->PrefixRange(prefix);
      uint64_t rows = 0, values = 0;
      for (const auto& [f, r] : rows_of) {
        if (f.rfind(prefix, 0) != 0) continue;
        ++values;
        rows += r.size();
        const ValueId id = *index->Find(f);
        EXPECT_TRUE(id >= first && id < last) << prefix << " " << f;
      }
      EXPECT_EQ(last - first, values) << prefix;
      EXPECT_EQ(index->OccurrencesIn(first, last), rows) << prefix;
      EXPECT_EQ(index->StartsWith(prefix).occurrences, rows) << prefix;
    }
    // Short needles scan the text; rare ones go through the trigrams.
    for (const std::string needle :
         {"a", "b.", "ab.", "common", "on3", "@-1"}) {
      uint64_t rows = 0, values = 0;
      for (const auto& [f, r] : rows_of) {
        if (f.find(needle) == std::string::npos) continue;
        ++values;
        rows += r.size();
      }
      const ValueSet set = index->ContainsSet(needle);
      EXPECT_EQ(set.count, values) << needle;
      EXPECT_EQ(set.occurrences, rows) << needle;
    }
    // Most rows hold one value each: the occurrences are kept per row.
    EXPECT_EQ(index->keeps_occurrences(), with_trigrams);
    EXPECT_TRUE(index->occurrence_rows().empty());
    const auto row_values = index->row_values();
    ASSERT_EQ(row_values.size(), with_trigrams ? row_value.size() - 1 : 0u);
    for (size_t row = 0; row < row_values.size(); ++row) {
      if (!row_value[row]) {
        ASSERT_EQ(row_values[row], StringIndex::kNoValue) << row;
      } else {
        ASSERT_EQ(index->folded(row_values[row]), *row_value[row]) << row;
      }
    }
  }
}

// Occurrences are kept as (row, value) pairs when rows hold several values,
// or when fewer than half the rows hold one.
TEST(StringIndexTest, OccurrencesAreKeptInTheSmallerForm) {
  for (const int form : {0, 1, 2}) {
    StringIndex::Builder builder;
    std::vector<std::pair<uint32_t, std::string>> added;
    for (uint32_t row = 0; row < 9000; ++row) {
      if (form == 1 && row % 3 != 0) continue;  // a third of the rows
      added.emplace_back(row, "v" + std::to_string(row));
      if (form == 2 && row % 7 == 0) {  // several values in a row
        added.emplace_back(row, "w" + std::to_string(row));
      }
    }
    for (const auto& [row, v] : added) builder.Add(row, v);
    std::unique_ptr<StringIndex> index = std::move(builder).Finish(true);
    ASSERT_TRUE(index->keeps_occurrences());
    EXPECT_EQ(index->occurrence_count(), added.size());
    if (form == 0) {
      EXPECT_EQ(index->row_values().size(), 9000u);
      EXPECT_TRUE(index->occurrence_rows().empty());
      continue;
    }
    EXPECT_TRUE(index->row_values().empty()) << form;
    ASSERT_EQ(index->occurrence_rows().size(), added.size());
    for (size_t i = 0; i < added.size(); ++i) {
      EXPECT_EQ(index->occurrence_rows()[i], added[i].first);
      EXPECT_EQ(index->folded(index->occurrence_values()[i]), added[i].second);
    }
  }
}

// Once built, a dictionary keeps its text and offsets and no lookup table:
// lookups search the sorted text. Every value is found, and nothing else.
TEST(StringIndexTest, LookupsSearchTheSortedTextAndNothingElseIsKept) {
  for (const uint32_t values : {1u, 2u, 3300u, 5000u}) {
    StringIndex::Builder builder;
    size_t text = 0;
    for (uint32_t row = 0; row < values; ++row) {
      const std::string v = "v" + std::to_string(values - row);
      builder.Add(row, v);
      text += v.size();
    }
    std::unique_ptr<StringIndex> index = std::move(builder).Finish(false);
    for (uint32_t i = 1; i <= values; ++i) {
      const std::string f = "v" + std::to_string(i);
      const std::optional<ValueId> id = index->Find(f);
      ASSERT_TRUE(id.has_value()) << f;
      ASSERT_EQ(index->folded(*id), f);
    }
    for (const std::string& absent :
         std::vector<std::string>{"", "u", "v", "v0", "v1x", "w",
                                  "v" + std::to_string(values + 1), "\xff"}) {
      EXPECT_FALSE(index->Find(absent).has_value()) << absent;
    }
    // The text (with its terminator, unless it fits inside the string) and
    // the offsets.
    const StringIndex::Memory memory = index->MemoryUse();
    EXPECT_LE(memory.text + memory.dictionary,
              text + 1 + (values + 1) * sizeof(uint32_t))
        << values;
  }
}

// A column gets a range bucket for every kBucketPositions entries, up to
// kMaxRangeBuckets, and prefix(k) holds exactly the rows before edge k.
TEST(SortedColumnTest, RangeBucketsGrowWithTheEntriesAndHoldTheirRows) {
  using Column = SortedColumn<int64_t>;
  std::mt19937_64 rng(3);
  constexpr size_t kPositions = Column::kBucketPositions;
  for (const size_t n : {size_t{100}, kPositions - 1, kPositions, size_t{12000},
                         size_t{40000}, size_t{kShardRows}}) {
    std::vector<uint16_t> all(kShardRows);
    std::iota(all.begin(), all.end(), uint16_t{0});
    std::shuffle(all.begin(), all.end(), rng);
    Column column;
    // Few distinct keys, so edges move to where the key changes.
    std::vector<int64_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = static_cast<int64_t>(i / 700);
    column.keys = IntKeys(keys);
    column.rows.assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
    column.MaybeBuildRangeBuckets();
    const size_t buckets = std::min<size_t>(n / Column::kBucketPositions,
                                            Column::kMaxRangeBuckets);
    ASSERT_EQ(column.bucket_count(), buckets) << n;
    EXPECT_EQ(column.prefix.size(), buckets * kShardWords) << n;
    if (buckets == 0) continue;
    EXPECT_EQ(column.edge(0), 0u);
    EXPECT_EQ(column.edge(buckets), n);
    for (size_t k = 1; k <= buckets; ++k) {
      const size_t e = column.edge(k);
      ASSERT_LE(column.edge(k - 1), e);
      if (k < buckets) {
        EXPECT_TRUE(e == 0 || keys[e - 1] != keys[e]) << e;
      }
      std::vector<bool> want(kShardRows, false);
      for (size_t i = 0; i < e; ++i) want[column.rows[i]] = true;
      const uint64_t* words = column.prefix_words(k);
      for (size_t r = 0; r < kShardRows; ++r) {
        ASSERT_EQ((words[r / 64] >> (r % 64) & 1) != 0, want[r])
            << n << " " << k << " " << r;
      }
    }
  }
}

// OR of a shard's rows below a window, in every container form: the same
// words as a whole OR below the window, the words past it untouched.
TEST(BitmapTest, OrShardBelowStopsAtTheWindow) {
  std::mt19937_64 rng(37);
  for (int trial = 0; trial < 30; ++trial) {
    Bitmap b;
    const uint32_t base = 1u << kShardBits;  // shard 1
    if (trial % 3 == 0) {                    // array
      for (int i = 0; i < 500; ++i) b.Add(base + rng() % kShardRows);
    } else if (trial % 3 == 1) {  // bitset
      for (int i = 0; i < 30000; ++i) b.Add(base + rng() % kShardRows);
    } else {  // runs, one straddling each window edge
      for (uint32_t start : {60u, 1000u, 8100u, 60000u}) {
        roaring_bitmap_add_range(b.get(), base + start + rng() % 30,
                                 base + start + 100 + rng() % 30);
      }
      b.Optimize();
    }
    for (const uint32_t row_end : {64u, 1024u, 8192u, kShardRows}) {
      std::vector<uint64_t> whole(kShardWords, 0), below(kShardWords, 0);
      std::vector<uint64_t> noise(kShardWords);
      for (uint64_t& w : noise) w = rng() & rng();
      whole = noise;
      below = noise;
      OrShard(b.get(), 1, whole.data());
      OrShardBelow(b.get(), 1, row_end, below.data());
      for (size_t w = 0; w < kShardWords; ++w) {
        ASSERT_EQ(below[w], w < row_end / 64 ? whole[w] : noise[w])
            << trial << " " << row_end << " " << w;
      }
    }
  }
}

// Ids in a range as bits, against a plain test of each id: every count
// (whole words and a tail), runs at both ends of the id space, and none.
TEST(BitmapTest, IdsInRangeAgreeWithAPlainTest) {
  std::mt19937_64 rng(29);
  for (int trial = 0; trial < 400; ++trial) {
    const size_t count = trial < 130 ? trial : rng() % 5000;
    std::vector<uint32_t> ids(count);
    for (uint32_t& id : ids) {
      id = rng() % 4 == 0 ? ~uint32_t{0} - rng() % 3 : rng() % 1000;
    }
    uint32_t lo = static_cast<uint32_t>(rng() % 1000);
    uint32_t width = static_cast<uint32_t>(rng() % 300);
    if (trial % 7 == 0) lo = ~uint32_t{0} - 2;  // the top of the space
    if (trial % 11 == 0) width = 0;
    if (trial % 13 == 0) lo = 0, width = ~uint32_t{0};
    const size_t words = (count + 63) / 64;
    std::vector<uint64_t> got(words + 1, 0xABABABABABABABAB);
    IdsInRangeWords(ids.data(), count, lo, width, got.data());
    for (size_t i = 0; i < words * 64; ++i) {
      const bool want = i < count && ids[i] - lo < width;
      ASSERT_EQ((got[i / 64] >> (i % 64) & 1) != 0, want)
          << trial << " " << i << " " << count << " " << lo << " " << width;
    }
    EXPECT_EQ(got[words], 0xABABABABABABABABu) << "wrote past the end";
  }
}

// Shards of bitmaps in every container form, loaded into words and combined,
// against the same operations done by CRoaring.
TEST(BitmapTest, ShardWordsAgreeWithRoaring) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    Bitmap a, b;
    const uint32_t shard = static_cast<uint32_t>(rng() % 3);
    const uint32_t base = shard << kShardBits;
    // Sparse (array), dense (bitset) and runs, by trial.
    for (int i = 0; i < (trial % 3 == 0 ? 100 : 30000); ++i) {
      a.Add(base + static_cast<uint32_t>(rng() % kShardRows));
    }
    roaring_bitmap_add_range(b.get(), base + rng() % 1000,
                             base + 20000 + rng() % 1000);
    b.Add(base + 65535);
    if (trial % 2) b.Optimize();  // run containers
    a.Add(base + kShardRows);     // a row of the next shard must not leak in

    alignas(64) uint64_t words[kShardWords], other[kShardWords];
    LoadShard(a.get(), shard, words);
    EXPECT_EQ(CountWords(words), ShardCardinality(a.get(), shard));
    LoadShard(b.get(), shard, other);
    EXPECT_EQ(CountWords(other), ShardCardinality(b.get(), shard));

    auto in_shard = [&](roaring_bitmap_t* r) {
      roaring_bitmap_t* range =
          roaring_bitmap_from_range(base, base + kShardRows, 1);
      roaring_bitmap_and_inplace(r, range);
      roaring_bitmap_free(range);
      return roaring_bitmap_get_cardinality(r);
    };
    uint64_t and_words[kShardWords];
    CopyWords(and_words, words);
    AndShard(b.get(), shard, and_words);
    roaring_bitmap_t* expected_and = roaring_bitmap_and(a.get(), b.get());
    EXPECT_EQ(CountWords(and_words), in_shard(expected_and));
    roaring_bitmap_free(expected_and);

    uint64_t or_words[kShardWords];
    CopyWords(or_words, words);
    OrShard(b.get(), shard, or_words);
    roaring_bitmap_t* expected_or = roaring_bitmap_or(a.get(), b.get());
    EXPECT_EQ(CountWords(or_words), in_shard(expected_or));
    roaring_bitmap_free(expected_or);

    EXPECT_FALSE(LoadShard(a.get(), shard + 5, words));
    EXPECT_FALSE(AnyWords(words));
  }
}

// Optimize keeps arrays of kDenseArrayRows or more as bitsets; counting an
// AND in place must agree with CRoaring for every container form, those
// bitsets included, and CRoaring's own operations must still hold on them.
TEST(BitmapTest, AndCountsAgreeWithRoaringInEveryContainerForm) {
  std::mt19937_64 rng(11);
  const int sizes[] = {10, kDenseArrayRows - 1, kDenseArrayRows, 3000, 30000};
  for (int trial = 0; trial < 40; ++trial) {
    const uint32_t shard = static_cast<uint32_t>(rng() % 3);
    const uint32_t base = shard << kShardBits;
    Bitmap a, b;
    for (int i = 0; i < sizes[trial % 5]; ++i) {
      a.Add(base + static_cast<uint32_t>(rng() % kShardRows));
    }
    if (trial % 2) {  // runs
      roaring_bitmap_add_range(b.get(), base + rng() % 5000,
                               base + 30000 + rng() % 5000);
    } else {
      for (int i = 0; i < sizes[(trial / 2) % 5]; ++i) {
        b.Add(base + static_cast<uint32_t>(rng() % kShardRows));
      }
    }
    b.Add(base + kShardRows);  // the next shard must not leak in
    const uint64_t expected = roaring_bitmap_and_cardinality(a.get(), b.get());
    const uint64_t a_rows = a.cardinality();
    a.Optimize();
    b.Optimize();
    EXPECT_EQ(a.cardinality(), a_rows);
    const roaring_array_t& ra = a.get()->high_low_container;
    if (a_rows >= static_cast<uint64_t>(kDenseArrayRows)) {
      EXPECT_NE(ra.typecodes[0], ARRAY_CONTAINER_TYPE_CODE) << a_rows;
    } else {
      EXPECT_EQ(ra.typecodes[0], ARRAY_CONTAINER_TYPE_CODE) << a_rows;
    }
    EXPECT_EQ(roaring_bitmap_and_cardinality(a.get(), b.get()), expected);

    alignas(64) uint64_t words[kShardWords], other[kShardWords];
    LoadShard(a.get(), shard, words);
    LoadShard(b.get(), shard, other);
    EXPECT_EQ(AndCountShard(b.get(), shard, words), expected);
    EXPECT_EQ(AndCountShard(a.get(), shard, other), expected);
    EXPECT_EQ(AndCountWords(words, other), expected);
    EXPECT_EQ(AndCountShard(a.get(), shard + 7, other), 0u);
  }
}

// The searches of `compact` agree with those of the plain `keys` at every
// key, its neighbours and the extremes.
void ExpectSearchesAgree(const IntKeys& compact,
                         const std::vector<int64_t>& keys,
                         const std::string& label) {
  const int64_t kMin = INT64_MIN, kMax = INT64_MAX;
  ASSERT_EQ(compact.size(), keys.size()) << label;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(compact[i], keys[i]) << label;
  }
  std::vector<int64_t> probes = {kMin, kMax, kMin + 1, kMax - 1, 0};
  for (int64_t k : keys) {
    for (int64_t d : {-1, 0, 1}) {
      if ((d < 0 && k == kMin) || (d > 0 && k == kMax)) continue;
      probes.push_back(k + d);
    }
  }
  for (int64_t x : probes) {
    ASSERT_EQ(compact.LowerBound(x),
              std::lower_bound(keys.begin(), keys.end(), x) - keys.begin())
        << label << " " << x;
    ASSERT_EQ(compact.UpperBound(x),
              std::upper_bound(keys.begin(), keys.end(), x) - keys.begin())
        << label << " " << x;
  }
}

// Keys in 32 bits (base + unit * k) or 64: searches agree with a binary
// search of the plain keys for any int64 bound, at the extremes too.
TEST(IntKeysTest, SearchesAgreeWithThePlainKeys) {
  std::mt19937_64 rng(17);
  const int64_t kMin = INT64_MIN, kMax = INT64_MAX;
  // A span past INT64_MAX that still fits 32 bits: two keys, one unit.
  const IntKeys extremes(std::vector<int64_t>{-5'000'000'000'000'000'000,
                                              5'000'000'000'000'000'000});
  EXPECT_EQ(extremes.form(), IntKeys::Form::kNarrow);
  EXPECT_EQ(extremes[1], 5'000'000'000'000'000'000);
  EXPECT_EQ(extremes.LowerBound(0), 1u);
  EXPECT_EQ(extremes.UpperBound(kMax), 2u);
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<int64_t> keys;
    const int64_t unit =
        std::vector<int64_t>{1, 1000, 86'400'000, 7}[trial % 4];
    const int64_t base = trial % 5 == 0
                             ? kMin + 3
                             : static_cast<int64_t>(rng() % 2'000'000'000'000) -
                                   1'000'000'000'000;
    for (int i = 0; i < 300; ++i) {
      keys.push_back(base + unit * static_cast<int64_t>(rng() % 100'000));
    }
    if (trial % 3 == 0) keys.push_back(kMax);  // too wide for 32 bits
    if (trial % 7 == 0) keys.assign(5, base);  // one key, repeated
    std::sort(keys.begin(), keys.end());
    const IntKeys compact(keys);
    EXPECT_EQ(compact.form(), trial % 3 != 0 || trial % 7 == 0
                                  ? IntKeys::Form::kNarrow
                                  : IntKeys::Form::kWide)
        << trial;
    ExpectSearchesAgree(compact, keys, std::to_string(trial));
  }
}

// The unit is the greatest common divisor of the keys' distances from the
// first, found as it shrinks (6000, then 3000, 500, 100 and 1 here, and
// units with odd factors and powers of two): every key comes back exact.
TEST(IntKeysTest, TheUnitShrinksToEveryDistancesDivisor) {
  const std::vector<std::vector<int64_t>> runs = {
      {-7, 5993, 8993, 9493, 9593, 9594},
      {0, 6000, 9000, 9500, 9600},
      {0, 3 << 20, 5 << 20, 7 << 21},
      {1, 1 + 86'400'000, 1 + 3 * 86'400'000, 1 + 1000 * 86'400'000LL}};
  for (size_t r = 0; r < runs.size(); ++r) {
    std::vector<int64_t> keys;
    // Enough keys that they are packed, not held as runs: copies of the
    // run, each shifted by twice its span (a multiple of the unit).
    const int64_t shift = 2 * (runs[r].back() - runs[r].front());
    for (int copy = 0; copy < 40; ++copy) {
      for (const int64_t key : runs[r]) keys.push_back(key + copy * shift);
    }
    std::sort(keys.begin(), keys.end());
    const IntKeys compact(keys);
    EXPECT_EQ(compact.form(), IntKeys::Form::kNarrow) << r;
    ExpectSearchesAgree(compact, keys, "run " + std::to_string(r));
  }
}

// Keys spanning more than 2^32 units in all fit 32 bits when each block of
// kBlock keys spans less; a jump inside a block makes them all 64-bit, a
// jump between two blocks does not.
TEST(IntKeysTest, EachBlockOfKeysHasItsOwnBase) {
  const size_t kBlock = IntKeys::kBlock;
  const int64_t kJump = int64_t{1} << 40;
  for (const int64_t unit : {int64_t{1}, int64_t{7}}) {
    for (const size_t jump_at :
         {size_t{0}, kBlock, kBlock + 1, 3 * kBlock - 1}) {
      std::vector<int64_t> keys;
      for (size_t i = 0; i < 10 * kBlock + 3; ++i) {
        // About 10^7 units apart: 1.3 * 10^9 within a block, 5 * 10^10 in
        // all, with a unit of `unit`.
        const auto k = static_cast<int64_t>(i);
        int64_t key = -1'000'000'000'000 + unit * (10'000'000 * k + k % 5);
        if (jump_at > 0 && i >= jump_at) key += unit * kJump;
        keys.push_back(key);
      }
      const IntKeys compact(keys);
      const bool jump_inside = jump_at % kBlock != 0;
      EXPECT_EQ(compact.form(),
                jump_inside ? IntKeys::Form::kWide : IntKeys::Form::kNarrow)
          << unit << " " << jump_at;
      if (!jump_inside) {
        EXPECT_LT(compact.MemoryBytes(), keys.size() * 5) << jump_at;
      }
      ExpectSearchesAgree(compact, keys,
                          std::to_string(unit) + " " + std::to_string(jump_at));
    }
  }
}

// Each block's keys take the bits that block's span needs, from none (a
// block of one key repeated) to 32, with a short last block: the keys and
// every search come back, and the memory is about the bits.
TEST(IntKeysTest, EachBlockPacksItsKeysInTheBitsItsSpanNeeds) {
  const size_t kBlock = IntKeys::kBlock;
  const std::vector<int> widths = {0, 1, 7, 32, 13, 31, 0, 19, 5};
  std::mt19937_64 rng(29);
  std::vector<int64_t> keys;
  int64_t base = -3'000'000'000'000;
  size_t bits = 0;
  for (size_t b = 0; b < widths.size(); ++b) {
    const int width = widths[b];
    const uint64_t top = width == 0 ? 0 : (uint64_t{1} << width) - 1;
    // A short last block; the others full. Each block reaches its top.
    const size_t count = b + 1 == widths.size() ? 37 : kBlock;
    std::vector<int64_t> block = {base, base + static_cast<int64_t>(top)};
    while (block.size() < count) {
      block.push_back(base + static_cast<int64_t>(rng() % (top + 1)));
    }
    std::sort(block.begin(), block.end());
    keys.insert(keys.end(), block.begin(), block.end());
    bits += static_cast<size_t>(width) * kBlock;
    base += static_cast<int64_t>(top) + 1 + static_cast<int64_t>(rng() % 50);
  }
  const IntKeys compact(keys);
  ASSERT_EQ(compact.form(), IntKeys::Form::kNarrow);
  EXPECT_LE(compact.MemoryBytes(), bits / 8 + 40 * widths.size() + 64);
  ExpectSearchesAgree(compact, keys, "widths");
}

// The searches of `compact` agree with those of the plain `keys` at every
// key, next to it and at the infinities.
void ExpectSearchesAgree(const RealKeys& compact,
                         const std::vector<long double>& keys,
                         std::vector<long double> probes) {
  ASSERT_EQ(compact.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(compact[i], keys[i]);
  probes.push_back(-std::numeric_limits<long double>::infinity());
  probes.push_back(std::numeric_limits<long double>::infinity());
  for (long double k : keys) {
    for (long double d : {-1e-3L, 0.0L, 1e-3L}) probes.push_back(k + d);
  }
  for (long double x : probes) {
    ASSERT_EQ(compact.LowerBound(x),
              std::lower_bound(keys.begin(), keys.end(), x) - keys.begin())
        << static_cast<double>(x);
    ASSERT_EQ(compact.UpperBound(x),
              std::upper_bound(keys.begin(), keys.end(), x) - keys.begin())
        << static_cast<double>(x);
  }
}

// Keys with few distinct values are held as runs, at the extremes too, and
// searches agree with those of the plain keys.
TEST(KeyRunsTest, FewDistinctKeysAreHeldAsRuns) {
  std::mt19937_64 rng(23);
  const std::vector<int64_t> distinct = {INT64_MIN, -7, 0,          1,
                                         2,         5,  86'400'000, INT64_MAX};
  std::vector<int64_t> keys;
  for (int i = 0; i < 5000; ++i) keys.push_back(distinct[rng() % 8]);
  std::sort(keys.begin(), keys.end());
  const IntKeys compact(keys);
  EXPECT_EQ(compact.form(), IntKeys::Form::kRuns);
  EXPECT_LT(compact.MemoryBytes(), 200u);
  ExpectSearchesAgree(compact, keys, "runs");

  const long double kBig = 9007199254740993.0L;  // 2^53 + 1, not a double
  std::vector<long double> reals;
  for (int i = 0; i < 5000; ++i) {
    reals.push_back(i % 100 == 0 ? kBig : 1.0 + 0.1 * (rng() % 41));
  }
  std::sort(reals.begin(), reals.end());
  const RealKeys exact(reals);
  EXPECT_EQ(exact.form(), RealKeys::Form::kRuns);
  ExpectSearchesAgree(exact, reals, {kBig - 1, kBig + 1, 0.1L, 4.5L});
}

// Exact keys in 8 bytes when every one is a double, else in 16: searches
// agree with those of the plain long double keys either way.
TEST(RealKeysTest, SearchesAgreeWithThePlainKeys) {
  const long double kBig = 9007199254740993.0L;  // 2^53 + 1, not a double
  for (const bool all_doubles : {true, false}) {
    std::vector<long double> keys;
    for (double k : {-1e300, -2.5, -0.0, 0.0, 0.1, 0.1, 1.0, 4.5, 4.5, 1e18}) {
      keys.push_back(k);
    }
    if (!all_doubles) keys.push_back(kBig);
    const RealKeys compact(keys);
    EXPECT_EQ(compact.form(),
              all_doubles ? RealKeys::Form::kNarrow : RealKeys::Form::kWide);
    EXPECT_EQ(compact.MemoryBytes(), keys.size() * (all_doubles ? 8 : 16));
    ExpectSearchesAgree(compact, keys,
                        {kBig - 1, kBig + 1,
                         0.1L,  // not the double 0.1: next to it
                         static_cast<long double>(0.1)});
  }
}

TEST(ProfileCodecTest, RoundTripsEveryValueKind) {
  std::string blob;
  ProfileEncoder encoder(&blob);
  encoder.Begin("c-1", kExplicitCustomerType, 7);
  Value s;
  s.type = AttrType::kString;
  s.text = std::string("Zoë\0x", 6);
  encoder.AddValue(0, s);
  Value i;
  i.type = AttrType::kNumber;
  i.number = Number::Int(-9223372036854775807 - 1);
  encoder.AddValue(1, i);
  Value d;
  d.type = AttrType::kNumber;
  d.number = Number::Double(-0.5);
  encoder.AddValue(2, d);
  Value t;
  t.type = AttrType::kDate;
  t.date_ms = -1;
  t.text = "1969-12-31T23:59:59.999Z";
  encoder.AddValue(3, t);
  Value b;
  b.type = AttrType::kBool;
  b.boolean = true;
  encoder.AddValue(4, b);
  Value a;
  a.type = AttrType::kStringArray;
  a.strings = {"vip", "", "new"};
  encoder.AddValue(300, a);
  Value raw;
  raw.type = AttrType::kUnindexable;
  raw.text = "[1,2]";
  encoder.AddValue(70000, raw);
  encoder.AddIdentities({{"email", "a@x"}});
  encoder.AddEvents({{3, 1795046400000}, {0, -5}});

  DecodedProfile p;
  DecodeProfile(blob, &p);
  EXPECT_EQ(p.id, "c-1");
  EXPECT_EQ(p.flags, kExplicitCustomerType);
  ASSERT_EQ(p.values.size(), 7u);
  EXPECT_EQ(p.values[0].text, s.text);
  EXPECT_EQ(p.values[1].number.i, i.number.i);
  EXPECT_EQ(p.values[2].number.d, -0.5);
  EXPECT_EQ(p.values[3].date_ms, -1);
  char buffer[kMaxIsoText];
  EXPECT_EQ(p.values[3].DateText(buffer), t.text);
  EXPECT_TRUE(p.values[4].boolean());
  std::vector<std::string> elements;
  p.values[5].ForEachString(
      [&](std::string_view e) { elements.emplace_back(e); });
  EXPECT_EQ(elements, a.strings);
  EXPECT_EQ(p.values[5].attr, 300u);
  EXPECT_EQ(p.values[6].attr, 70000u);
  EXPECT_EQ(p.values[6].text, "[1,2]");
  ASSERT_EQ(p.identities.size(), 1u);
  EXPECT_EQ(p.identities[0].second, "a@x");
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[1].at_ms, -5);
}

// Dates keep a layout code and an instant instead of their text; every
// accepted form must come back byte for byte, and the instant exactly.
TEST(ProfileCodecTest, DatesComeBackAsWritten) {
  const std::vector<std::string> texts = {
      "2026-11-24",
      "0000-01-01",
      "9999-12-31",
      "1969-12-31T23:59:59.999Z",
      "2024-02-29T12:00Z",
      "2024-02-29T12:00",
      "2024-02-29T12:00:05",
      "2024-02-29T12:00:05.123",
      "2023-10-08T01:44:57+05:30",
      "2023-10-08T01:44:57-05:30",
      "2023-10-08T01:44:57+0530",
      "2023-10-08T01:44:57-0000",
      "2023-10-08T01:44:57+00:00",
      "2023-10-08T01:44:57.120-23:59",
      "0000-01-01T00:00:00+01:00",  // the instant falls in year -1
      "9999-12-31T23:59:59-23:59",  // the instant falls in year 10000
      "2023-10-08T01:44:57.1Z",     // fractions of other lengths: verbatim
      "2023-10-08T01:44:57.123456Z",
      "2023-10-08T01:44:57.000Z",
  };
  for (const std::string& text : texts) {
    const std::optional<int64_t> ms = ParseIsoInstant(text);
    ASSERT_TRUE(ms) << text;
    std::string blob;
    ProfileEncoder encoder(&blob);
    encoder.Begin("d", 0, 1);
    Value v;
    v.type = AttrType::kDate;
    v.date_ms = *ms;
    v.text = text;
    encoder.AddValue(9, v);
    encoder.AddIdentities({});
    encoder.AddEvents({});
    DecodedProfile p;
    DecodeProfile(blob, &p);
    ASSERT_EQ(p.values.size(), 1u) << text;
    EXPECT_EQ(p.values[0].tag, ValueTag::kDate) << text;
    EXPECT_EQ(p.values[0].date_ms, *ms) << text;
    char buffer[kMaxIsoText];
    EXPECT_EQ(p.values[0].DateText(buffer), text);
  }
  // Layouts cost a few bytes, not the text; other forms keep the text.
  for (const char* text :
       {"2026-11-18T06:42:49Z", "2026-11-18", "2026-11-18T06:42:49.120+05:30",
        "2026-11-18T06:42:49.120"}) {
    std::string blob;
    ProfileEncoder encoder(&blob);
    Value v;
    v.type = AttrType::kDate;
    v.text = text;
    v.date_ms = *ParseIsoInstant(v.text);
    encoder.AddValue(9, v);
    EXPECT_LE(blob.size(), 12u) << text;
  }
}

// `blob` as the store wrote it before blobs carried their values' length.
std::string WithoutValuesLength(std::string_view blob) {
  const char* p = blob.data();
  p += codec::ReadVarint(p);  // the id
  const auto flags = static_cast<uint8_t>(*p);
  EXPECT_TRUE(flags & kValuesLength);
  std::string out(blob.data(), p);
  out.push_back(static_cast<char>(flags & ~kValuesLength));
  const char* values = p + 1;
  codec::ReadVarint(values);
  out.append(values, blob.data() + blob.size());
  return out;
}

// Readers of the identities and events jump over the values by their
// length, and step over them in a blob stored without it; edits keep the
// length right.
TEST(ProfileCodecTest, ReadersJumpToTheEventsAndStepOverOldBlobs) {
  const auto of = [](AttrType type, std::string text,
                     std::vector<std::string> strings, int64_t number) {
    Value v;
    v.type = type;
    v.text = std::move(text);
    v.strings = std::move(strings);
    v.number = Number::Int(number);
    return v;
  };
  const Value orders = of(AttrType::kNumber, "", {}, 7);
  const Value gold = of(AttrType::kStringArray, "", {"gold"}, 0);
  std::string blob;
  ProfileEncoder encoder(&blob);
  encoder.Begin("p-1", kExplicitCustomerType, 4);
  encoder.AddValue(0, of(AttrType::kString, "lead", {}, 0));
  // Long enough that the values' length takes a varint of three bytes.
  encoder.AddValue(1, of(AttrType::kString, std::string(20000, 'P'), {}, 0));
  encoder.AddValue(2, of(AttrType::kStringArray, "", {"vip", "new"}, 0));
  encoder.AddValue(3, orders);
  encoder.AddIdentities({{"email", "a@x"}, {"phone", "+91"}});
  encoder.AddEvents({{0, 1795046400000}, {1, 1795046401000}});
  const std::string old = WithoutValuesLength(blob);
  ASSERT_LT(old.size(), blob.size());

  const std::vector<std::pair<AttrId, const Value*>> edits = {
      {2, &gold}, {1, nullptr}, {9, &orders}};
  for (const std::string& b : {blob, old}) {
    SCOPED_TRACE(b == blob ? "with the values' length" : "without it");
    DecodedProfile whole, rest;
    DecodeProfile(b, &whole);
    EXPECT_EQ(whole.flags, kExplicitCustomerType);
    ASSERT_EQ(whole.values.size(), 4u);
    EXPECT_EQ(whole.values[1].text, std::string(20000, 'P'));
    ASSERT_EQ(whole.identities.size(), 2u);
    EXPECT_EQ(whole.identities[1].second, "+91");

    DecodeSelected(b, {}, DecodeScope::kAll, &rest);
    EXPECT_EQ(rest.id, "p-1");
    EXPECT_TRUE(rest.values.empty());
    EXPECT_EQ(rest.identities, whole.identities);
    ASSERT_EQ(rest.events.size(), 2u);
    EXPECT_EQ(rest.events[1].at_ms, 1795046401000);

    std::string appended;
    AppendEventsToBlob(b, std::vector<StoredEvent>{{2, 1795046402000}},
                       &appended);
    DecodeSelected(appended, {}, DecodeScope::kAll, &rest);
    EXPECT_EQ(rest.identities, whole.identities);
    ASSERT_EQ(rest.events.size(), 3u);
    EXPECT_EQ(rest.events[2].name, 2u);
    EXPECT_EQ(rest.events[2].at_ms, 1795046402000);
    EXPECT_EQ(FindValue(appended, 3)->number.i, 7);

    for (const auto& [attr, value] : edits) {
      SCOPED_TRACE("attribute " + std::to_string(attr));
      std::string edited;
      ReplaceValueInBlob(b, attr, value, &edited);
      (void)WithoutValuesLength(edited);  // which expects the length
      DecodedProfile e;
      DecodeSelected(edited, {}, DecodeScope::kAll, &e);
      EXPECT_EQ(e.identities, whole.identities);
      EXPECT_EQ(e.events.size(), 2u);
      DecodeProfile(edited, &e);
      EXPECT_EQ(e.flags, kExplicitCustomerType);
      EXPECT_EQ(e.values.size(),
                whole.values.size() - (value == nullptr) + (attr == 9));
      const std::optional<DecodedValue> now = FindValue(edited, attr);
      ASSERT_EQ(now.has_value(), value != nullptr);
      if (value == &gold) {
        EXPECT_EQ(now->array_count, 1u);
      } else if (value == &orders) {
        EXPECT_EQ(now->number.i, 7);
      }
    }
  }
}

TEST(ProfileCodecTest, EventInstantsRoundTripAtEveryDistance) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<StoredEvent> events = {{0, 1795046400000},
                                           {1, 1795046400000},
                                           {2, 1795046399999},
                                           {3, 0},
                                           {4, kMax},
                                           {5, kMin},
                                           {6, kMax},
                                           {7, -5},
                                           {8, kMin + 1},
                                           {9, 4611686018427387904},
                                           {10, -4611686018427387905},
                                           {11, 1795046401000}};
  std::string blob;
  ProfileEncoder encoder(&blob);
  encoder.Begin("e", 0, 0);
  encoder.AddIdentities({});
  encoder.AddEvents(events);
  DecodedProfile p;
  DecodeProfile(blob, &p);
  ASSERT_EQ(p.events.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(p.events[i].name, events[i].name) << i;
    EXPECT_EQ(p.events[i].at_ms, events[i].at_ms) << i;
  }
}

}  // namespace
}  // namespace segd
