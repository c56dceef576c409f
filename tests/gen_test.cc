#include "tools/gen.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/ascii.h"
#include "base/time.h"

namespace segd {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

GenOptions Options(uint64_t profiles, uint64_t seed = 42) {
  GenOptions options;
  options.profiles = profiles;
  options.seed = seed;
  return options;
}

// Lines without their '\n'. A last line without one is returned too rather
// than dropped.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// Names the first differing line; EXPECT_EQ on megabytes of text would
// print (and diff) all of it.
::testing::AssertionResult SameLines(std::string_view actual,
                                     std::string_view expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  const std::vector<std::string_view> a = Lines(actual);
  const std::vector<std::string_view> e = Lines(expected);
  for (size_t i = 0; i < std::min(a.size(), e.size()); ++i) {
    if (a[i] != e[i]) {
      return ::testing::AssertionFailure() << "line " << i << " is\n"
                                           << a[i] << "\nexpected\n"
                                           << e[i];
    }
  }
  return ::testing::AssertionFailure()
         << a.size() << " lines, expected " << e.size()
         << " (or a missing final newline)";
}

std::string IdOf(uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c-%08llu",
                static_cast<unsigned long long>(index));
  return buf;
}

// 20,000 profiles of seed 42, shared by the tests that check content.
const std::string& SampleText() {
  static const std::string* const text =
      new std::string(GenerateProfilesToString(Options(20000)));
  return *text;
}

// Parses every line of `text` and calls `check(index, object)`; fails the
// test on a line that is not a JSON object (simdjson also rejects invalid
// UTF-8).
template <typename Check>
void ForEachProfile(std::string_view text, Check check) {
  simdjson::dom::parser parser;
  uint64_t index = 0;
  for (std::string_view line : Lines(text)) {
    object profile;
    const auto error = parser.parse(line.data(), line.size()).get(profile);
    ASSERT_EQ(error, simdjson::SUCCESS) << "line " << index << ": " << line;
    check(index, profile);
    ++index;
  }
}

// The instant in `key`; nullopt when the key is absent or null. Any other
// value that is not an ISO-8601 string fails the test.
std::optional<int64_t> InstantField(object profile, const char* key) {
  element value;
  if (profile[key].get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::nullopt;
  }
  std::string_view text;
  EXPECT_EQ(value.get(text), simdjson::SUCCESS) << key;
  const std::optional<int64_t> instant = ParseIsoInstant(text);
  EXPECT_TRUE(instant.has_value()) << key << ": " << text;
  return instant;
}

// The string in `key`, or "" when absent or null.
std::string_view StringField(object profile, const char* key) {
  std::string_view text;
  return profile[key].get(text) == simdjson::SUCCESS ? text : "";
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

double Share(uint64_t count, uint64_t total) {
  return static_cast<double>(count) / static_cast<double>(total);
}

TEST(GenTest, SameSeedGivesSameBytes) {
  const std::string a = GenerateProfilesToString(Options(3000, 7));
  const std::string b = GenerateProfilesToString(Options(3000, 7));
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(SameLines(a, b));
}

TEST(GenTest, DifferentSeedGivesDifferentBytes) {
  const std::string a = GenerateProfilesToString(Options(100, 1));
  const std::string b = GenerateProfilesToString(Options(100, 2));
  const std::vector<std::string_view> a_lines = Lines(a);
  const std::vector<std::string_view> b_lines = Lines(b);
  ASSERT_EQ(a_lines.size(), b_lines.size());
  // Same ids, different people: every line differs.
  for (size_t i = 0; i < a_lines.size(); ++i) {
    EXPECT_NE(a_lines[i], b_lines[i]) << "line " << i;
  }
}

TEST(GenTest, WritesRequestedNumberOfLines) {
  EXPECT_EQ(GenerateProfilesToString(Options(0)), "");
  // One past a block of 16384, so the last block is a single profile.
  for (uint64_t n : {uint64_t{1}, uint64_t{16385}}) {
    const std::string text = GenerateProfilesToString(Options(n));
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')),
              n);
  }
}

TEST(GenTest, BytesDoNotDependOnThreadCount) {
  GenOptions options = Options(40000);
  const std::string all_threads = GenerateProfilesToString(options);
  options.threads = 1;
  const std::string one_thread = GenerateProfilesToString(options);
  options.threads = 3;
  const std::string three_threads = GenerateProfilesToString(options);
  EXPECT_TRUE(SameLines(one_thread, all_threads));
  EXPECT_TRUE(SameLines(three_threads, all_threads));
}

TEST(GenTest, SplitRunGivesSameBytesAsOneRun) {
  const std::string whole = GenerateProfilesToString(Options(40000));
  GenOptions head = Options(12345);
  GenOptions tail = Options(40000 - 12345);
  tail.first_index = 12345;
  EXPECT_TRUE(SameLines(
      GenerateProfilesToString(head) + GenerateProfilesToString(tail), whole));
}

TEST(GenTest, LongerRunStartsWithShorterRun) {
  const std::string longer = GenerateProfilesToString(Options(40000));
  const std::string shorter = GenerateProfilesToString(Options(20000));
  EXPECT_TRUE(
      SameLines(std::string_view(longer).substr(0, shorter.size()), shorter));
}

TEST(GenTest, FileOutputMatchesString) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(GenerateProfiles(Options(5000), file));
  std::rewind(file);
  std::string read;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file)) > 0) read.append(buf, n);
  std::fclose(file);
  EXPECT_TRUE(SameLines(read, GenerateProfilesToString(Options(5000))));
}

TEST(GenTest, WriteFailureIsReported) {
  std::FILE* read_only = std::fopen("/dev/null", "r");
  ASSERT_NE(read_only, nullptr);
  EXPECT_FALSE(GenerateProfiles(Options(100), read_only));
  std::fclose(read_only);
}

TEST(GenTest, EveryLineIsAnObjectWithItsId) {
  const std::string& text = SampleText();
  EXPECT_EQ(text.back(), '\n');
  std::set<std::string, std::less<>> ids;
  ForEachProfile(text, [&](uint64_t index, object profile) {
    std::string_view id;
    ASSERT_EQ(profile["id"].get(id), simdjson::SUCCESS) << "line " << index;
    EXPECT_EQ(id, IdOf(index));
    ids.emplace(id);
  });
  EXPECT_EQ(ids.size(), 20000u);
}

TEST(GenTest, IdsFollowFirstIndex) {
  GenOptions options = Options(3);
  options.first_index = 123'456'789;  // past 8 digits
  const std::string text = GenerateProfilesToString(options);
  const std::vector<std::string_view> lines = Lines(text);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].substr(0, 19), R"({"id":"c-123456789")");
  EXPECT_EQ(lines[2].substr(0, 19), R"({"id":"c-123456791")");
}

TEST(GenTest, EmailsPhonesAndIdentitiesAreUnique) {
  std::set<std::string> emails;  // folded: segd compares ASCII case-folded
  std::set<std::string, std::less<>> phones;
  std::set<std::pair<std::string, std::string>> identities;
  uint64_t email_count = 0, phone_count = 0, identity_count = 0;
  ForEachProfile(SampleText(), [&](uint64_t, object profile) {
    std::string_view text;
    if (profile["email"].get(text) == simdjson::SUCCESS) {
      emails.insert(FoldAscii(text));
      ++email_count;
    }
    if (profile["phone"].get(text) == simdjson::SUCCESS) {
      phones.emplace(text);
      ++phone_count;
    }
    object handles;
    if (profile["identities"].get(handles) == simdjson::SUCCESS) {
      for (auto [channel, handle] : handles) {
        ASSERT_EQ(handle.get(text), simdjson::SUCCESS);
        identities.emplace(std::string(channel), std::string(text));
        ++identity_count;
      }
    }
  });
  EXPECT_GT(email_count, 15000u);
  EXPECT_GT(identity_count, 10000u);
  EXPECT_EQ(emails.size(), email_count);
  EXPECT_EQ(phones.size(), phone_count);
  EXPECT_EQ(identities.size(), identity_count);
}

// SPEC §1 fixes an attribute's type when first seen; a generator that mixed
// types would make ingest reject its own data.
TEST(GenTest, EachAttributeKeepsOneType) {
  std::map<std::string, element_type, std::less<>> types;
  ForEachProfile(SampleText(), [&](uint64_t index, object profile) {
    for (auto [key, value] : profile) {
      if (value.type() == element_type::NULL_VALUE) continue;
      const auto [it, inserted] = types.emplace(std::string(key), value.type());
      EXPECT_EQ(it->second, value.type()) << key << " on line " << index;
    }
  });
  EXPECT_EQ(types["csat"], element_type::DOUBLE);
  EXPECT_EQ(types["orders"], element_type::INT64);
  EXPECT_EQ(types["trial_user"], element_type::BOOL);
  EXPECT_EQ(types["tags"], element_type::ARRAY);
  EXPECT_EQ(types["address"], element_type::OBJECT);
  EXPECT_EQ(types.count("last_items"), 1u);
}

TEST(GenTest, DatesParseAndAreOrdered) {
  const int64_t now = kGenDefaultNowMs;
  const int64_t four_years_ago = now - (4 * 365 + 1) * kMillisPerDay;
  uint64_t signed_up = 0, birthdays = 0, events = 0;
  uint64_t india_offset = 0, with_millis = 0;
  ForEachProfile(SampleText(), [&](uint64_t index, object profile) {
    const std::optional<int64_t> first = InstantField(profile, "first_seen");
    const std::optional<int64_t> last = InstantField(profile, "last_seen");
    ASSERT_TRUE(first && last) << "line " << index;
    EXPECT_GE(*first, four_years_ago) << "line " << index;
    EXPECT_LE(*first, *last) << "line " << index;
    EXPECT_LE(*last, now) << "line " << index;
    const std::string_view first_text = StringField(profile, "first_seen");
    india_offset += first_text.ends_with("+05:30");
    with_millis += first_text.find('.') != std::string_view::npos;
    // Date-only values: "YYYY-MM-DD".
    EXPECT_LE(StringField(profile, "signed_up").size(), 10u);
    EXPECT_LE(StringField(profile, "birthday").size(), 10u);
    if (const auto day = InstantField(profile, "signed_up")) {
      ++signed_up;
      EXPECT_GE(*day, StartOfUtcDay(*first)) << "line " << index;
      EXPECT_LE(*day, now) << "line " << index;
    }
    if (const auto birthday = InstantField(profile, "birthday")) {
      ++birthdays;
      EXPECT_GE(*birthday, *ParseIsoInstant("1950-01-01"));
      EXPECT_LT(*birthday, *ParseIsoInstant("2009-01-01"));
    }
    simdjson::dom::array list;
    if (profile["events"].get(list) != simdjson::SUCCESS) return;
    int64_t previous = *first;
    for (element event : list) {
      const std::optional<int64_t> at = InstantField(event, "at");
      ASSERT_TRUE(at) << "line " << index;
      EXPECT_GE(*at, previous) << "line " << index << ": not in time order";
      EXPECT_LE(*at, *last) << "line " << index;
      previous = *at;
      ++events;
    }
  });
  EXPECT_NEAR(Share(india_offset, 20000), 0.10, 0.02);
  EXPECT_NEAR(Share(with_millis, 20000), 0.10, 0.02);
  EXPECT_NEAR(Share(signed_up, 20000), 0.70, 0.02);
  EXPECT_NEAR(Share(birthdays, 20000), 0.40, 0.02);
  EXPECT_GT(events, 20000u);
}

TEST(GenTest, DatesFollowNow) {
  GenOptions options = Options(500);
  options.now_ms = *ParseIsoInstant("2031-06-01T00:00:00Z");
  int64_t latest = 0;
  ForEachProfile(GenerateProfilesToString(options), [&](uint64_t, object p) {
    latest = std::max(latest, InstantField(p, "last_seen").value_or(0));
  });
  EXPECT_LE(latest, options.now_ms);
  EXPECT_GT(latest, options.now_ms - 2 * kMillisPerDay);
}

TEST(GenTest, CitiesAreSkewedAndMostlyPresent) {
  uint64_t present = 0;
  std::map<std::string, uint64_t> counts;  // ASCII-folded name
  std::map<std::string, std::set<std::string>> countries;
  ForEachProfile(SampleText(), [&](uint64_t, object profile) {
    std::string_view city;
    if (profile["city"].get(city) != simdjson::SUCCESS) return;
    ++present;
    ++counts[FoldAscii(city)];
    std::string_view country;
    if (profile["country"].get(country) == simdjson::SUCCESS) {
      countries[FoldAscii(city)].emplace(country);
    }
  });
  EXPECT_NEAR(Share(present, 20000), 0.95, 0.02);
  EXPECT_GT(counts.size(), 40u);
  const auto most = std::max_element(
      counts.begin(), counts.end(),
      [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(most->first, "mumbai");
  EXPECT_GT(counts["mumbai"], 5 * counts["nagpur"] / 2);
  EXPECT_EQ(countries["pune"], std::set<std::string>{"IN"});
  EXPECT_EQ(countries["london"], std::set<std::string>{"GB"});
}

TEST(GenTest, SomeValuesAreNonAsciiOrOddCase) {
  uint64_t non_ascii_names = 0, devanagari = 0, odd_case_cities = 0;
  ForEachProfile(SampleText(), [&](uint64_t, object profile) {
    std::string_view text;
    if (profile["name"].get(text) == simdjson::SUCCESS) {
      for (unsigned char c : text) {
        if (c >= 0x80) {
          ++non_ascii_names;
          break;
        }
      }
      // Devanagari code points are U+0900..U+097F: E0 A4 xx or E0 A5 xx.
      if (text.find("\xE0\xA4") != std::string_view::npos) ++devanagari;
    }
    if (profile["city"].get(text) == simdjson::SUCCESS && text.size() > 1 &&
        (IsLower(text[0]) || IsUpper(text[1]))) {
      ++odd_case_cities;
    }
  });
  EXPECT_GT(Share(non_ascii_names, 20000), 0.02);
  EXPECT_GT(devanagari, 20u);
  EXPECT_NEAR(Share(odd_case_cities, 20000), 0.01, 0.005);
}

TEST(GenTest, RecentActivityHitsASmallShare) {
  const int64_t now = kGenDefaultNowMs;
  uint64_t cart_48h = 0, pricing_7d = 0, signed_up_7d = 0, five_orders = 0;
  uint64_t customer_type = 0, with_events = 0;
  ForEachProfile(SampleText(), [&](uint64_t, object profile) {
    const auto signed_up = InstantField(profile, "signed_up");
    signed_up_7d += signed_up && *signed_up >= now - 7 * kMillisPerDay;
    int64_t orders = 0;
    five_orders +=
        profile["orders"].get(orders) == simdjson::SUCCESS && orders >= 5;
    customer_type += profile["customer_type"].error() == simdjson::SUCCESS;
    simdjson::dom::array list;
    if (profile["events"].get(list) != simdjson::SUCCESS) return;
    ++with_events;
    bool cart = false, pricing = false;
    for (element event : list) {
      const std::string_view name = StringField(event, "name");
      const int64_t at = InstantField(event, "at").value_or(0);
      cart |= name == "cart_abandoned" && at >= now - 48 * kMillisPerHour;
      pricing |=
          name == "visited_pricing_page" && at >= now - 7 * kMillisPerDay;
    }
    cart_48h += cart;
    pricing_7d += pricing;
  });
  EXPECT_NEAR(Share(with_events, 20000), 0.75, 0.02);
  for (uint64_t count : {cart_48h, pricing_7d, signed_up_7d}) {
    EXPECT_GE(Share(count, 20000), 0.005);
    EXPECT_LE(Share(count, 20000), 0.03);
  }
  EXPECT_GE(Share(five_orders, 20000), 0.04);
  EXPECT_LE(Share(five_orders, 20000), 0.09);
  EXPECT_GT(customer_type, 0u);
  EXPECT_LT(Share(customer_type, 20000), 0.02);
}

TEST(GenTest, BuyersUsuallyHaveCustomerIdAndOrderEvents) {
  uint64_t buyers = 0, with_customer_id = 0, with_events = 0, with_order = 0;
  uint64_t order_events_without_orders = 0;
  ForEachProfile(SampleText(), [&](uint64_t, object profile) {
    int64_t orders = 0;
    if (profile["orders"].get(orders) != simdjson::SUCCESS) return;
    bool order_event = false;
    simdjson::dom::array list;
    const bool has_events =
        profile["events"].get(list) == simdjson::SUCCESS && list.size() > 0;
    if (has_events) {
      for (element event : list) {
        order_event |= StringField(event, "name") == "order";
      }
    }
    if (orders == 0) {
      order_events_without_orders += order_event;
      return;
    }
    ++buyers;
    with_customer_id += !StringField(profile, "customer_id").empty();
    with_events += has_events;
    with_order += order_event;
  });
  ASSERT_GT(buyers, 5000u);
  EXPECT_GT(Share(with_customer_id, buyers), 0.8);
  EXPECT_GT(Share(with_order, with_events), 0.8);
  EXPECT_EQ(order_events_without_orders, 0u);
}

TEST(GenTest, TagsAreDistinctAndSkewed) {
  uint64_t with_tags = 0, empty = 0;
  std::map<std::string, uint64_t, std::less<>> counts;
  ForEachProfile(SampleText(), [&](uint64_t index, object profile) {
    simdjson::dom::array tags;
    if (profile["tags"].get(tags) != simdjson::SUCCESS) return;
    ++with_tags;
    empty += tags.size() == 0;
    EXPECT_LE(tags.size(), 5u) << "line " << index;
    std::set<std::string_view> distinct;
    for (element tag : tags) {
      std::string_view text;
      ASSERT_EQ(tag.get(text), simdjson::SUCCESS);
      EXPECT_TRUE(distinct.insert(text).second) << "line " << index;
      ++counts[std::string(text)];
    }
  });
  EXPECT_NEAR(Share(with_tags, 20000), 0.90, 0.02);
  EXPECT_NEAR(Share(empty, 20000), 0.02, 0.01);
  EXPECT_GE(counts.size(), 35u);
  EXPECT_GT(counts["newsletter"], 4 * counts["wholesale"]);
  EXPECT_GT(counts["vip"], 0u);
}

}  // namespace
}  // namespace segd
