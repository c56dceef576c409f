#include "tools/gen.h"

#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <charconv>
#include <cstring>
#include <string_view>
#include <tuple>
#include <utility>

#include "base/json_writer.h"
#include "base/time.h"

namespace segd {
namespace {

// ---------------------------------------------------------------------------
// Random numbers.
//
// Our own generator and integer arithmetic (plus a few exactly rounded
// double operations), so a seed gives the same bytes with any compiler,
// standard library or CPU: the <random> distributions differ between
// standard libraries, and libm's pow and log may differ in the last bit.

// The splitmix64 finalizer: a bijection on 64-bit integers that mixes well.
constexpr uint64_t Mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// High 64 bits of a 64x64 product: scales `x` by the fraction `f / 2^64`.
inline uint64_t MulHigh(uint64_t x, uint64_t f) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(x) * f) >> 64);
}

// xoshiro256** (Blackman and Vigna), seeded with splitmix64. One generator
// per profile, so any block of profiles can be made on any thread.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t x = Mix64(seed) ^ Mix64(stream * kGolden + 1);
    // Four outputs of splitmix64 are distinct (Mix64 is a bijection), so the
    // state is never all zero.
    for (uint64_t& word : state_) {
      x += kGolden;
      word = Mix64(x);
    }
  }

  uint64_t Next() {
    const uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = RotateLeft(state_[3], 45);
    return result;
  }

  // Uniform in [0, n) by multiply-shift (Lemire); the bias, below n / 2^64,
  // does not matter here. REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return MulHigh(n, Next()); }

  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability `p` in [0, 1].
  bool Chance(double p) {
    return (Next() >> 11) < static_cast<uint64_t>(p * 0x1p53);
  }

  // n * u^power for a uniform u in [0, 1): in [0, n), crowded towards 0
  // more the larger `power` (power 1 is uniform). Used for "skewed recent"
  // times and long-tailed counts.
  uint64_t Skewed(uint64_t n, int power) {
    uint64_t fraction = Next();
    for (int i = 1; i < power; ++i) fraction = MulHigh(fraction, Next());
    return MulHigh(n, fraction);
  }

  // How many coin flips in a row come up "continue" (probability
  // `p_continue` each), at most `cap`: P(n >= k) = p_continue^k.
  uint64_t Geometric(double p_continue, uint64_t cap) {
    uint64_t n = 0;
    while (n < cap && Chance(p_continue)) ++n;
    return n;
  }

 private:
  static uint64_t RotateLeft(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
  }

  uint64_t state_[4];
};

// A bijection on [0, modulus) for a multiplier coprime to the modulus: gives
// every profile index its own random-looking number (phone digits, page
// ids). Unique while index < modulus.
uint64_t AffinePermute(uint64_t index, uint64_t modulus, uint64_t multiplier,
                       uint64_t offset) {
  const unsigned __int128 product =
      static_cast<unsigned __int128>(index % modulus) * multiplier + offset;
  return static_cast<uint64_t>(product % modulus);
}

// ---------------------------------------------------------------------------
// Weighted choices: cumulative integer weights and a binary search.

template <size_t N>
struct CumulativeWeights {
  // upper[k] = weight[0] + ... + weight[k]. A zero weight is never drawn.
  std::array<uint64_t, N> upper{};

  size_t Sample(Rng& rng) const {
    const uint64_t r = rng.Below(upper[N - 1]);
    return std::upper_bound(upper.begin(), upper.end(), r) - upper.begin();
  }
};

// Zipf with exponent 1: rank k (from 0) has weight 1 / (k + 1). The weights
// are integers so the table is identical everywhere and built at compile
// time.
template <size_t N>
constexpr CumulativeWeights<N> ZipfWeights() {
  constexpr uint64_t kScale = uint64_t{1} << 40;
  CumulativeWeights<N> table;
  uint64_t sum = 0;
  for (size_t k = 0; k < N; ++k) {
    sum += kScale / (k + 1);
    table.upper[k] = sum;
  }
  return table;
}

struct WeightedText {
  std::string_view text;
  uint64_t weight;
};

template <size_t N>
struct TextChoice {
  std::array<std::string_view, N> texts{};
  CumulativeWeights<N> weights;

  size_t SampleIndex(Rng& rng) const { return weights.Sample(rng); }
  std::string_view Sample(Rng& rng) const { return texts[SampleIndex(rng)]; }
};

template <size_t N>
constexpr TextChoice<N> MakeChoice(const WeightedText (&items)[N]) {
  TextChoice<N> choice;
  uint64_t sum = 0;
  for (size_t k = 0; k < N; ++k) {
    choice.texts[k] = items[k].text;
    sum += items[k].weight;
    choice.weights.upper[k] = sum;
  }
  return choice;
}

// ---------------------------------------------------------------------------
// Vocabulary.

struct PersonName {
  std::string_view text;   // as shown: UTF-8, any script
  std::string_view ascii;  // lowercase a-z, for emails and handles
};

constexpr PersonName kIndianFemaleNames[] = {
    {"Asha", "asha"},       {"Priya", "priya"},     {"Ananya", "ananya"},
    {"Aditi", "aditi"},     {"Kavya", "kavya"},     {"Sneha", "sneha"},
    {"Pooja", "pooja"},     {"Neha", "neha"},       {"Divya", "divya"},
    {"Meera", "meera"},     {"Lakshmi", "lakshmi"}, {"Fatima", "fatima"},
    {"Ayesha", "ayesha"},   {"Riya", "riya"},       {"Isha", "isha"},
    {"Shruti", "shruti"},   {"Nandini", "nandini"}, {"Harpreet", "harpreet"},
    {"Deepika", "deepika"}, {"Sunita", "sunita"},   {"Swati", "swati"},
    {"Tanvi", "tanvi"},     {"Anjali", "anjali"},   {"Ishita", "ishita"},
    {"Ananyā", "ananya"},   {"अनन्या", "ananya"},    {"प्रिया", "priya"},
};

constexpr PersonName kIndianMaleNames[] = {
    {"Rahul", "rahul"},         {"Amit", "amit"},
    {"Arjun", "arjun"},         {"Rohan", "rohan"},
    {"Vikram", "vikram"},       {"Sanjay", "sanjay"},
    {"Aditya", "aditya"},       {"Karan", "karan"},
    {"Nikhil", "nikhil"},       {"Suresh", "suresh"},
    {"Rajesh", "rajesh"},       {"Imran", "imran"},
    {"Mohammed", "mohammed"},   {"Farhan", "farhan"},
    {"Gurpreet", "gurpreet"},   {"Vivek", "vivek"},
    {"Siddharth", "siddharth"}, {"Manoj", "manoj"},
    {"Anil", "anil"},           {"Deepak", "deepak"},
    {"Harsh", "harsh"},         {"Yash", "yash"},
    {"Omkar", "omkar"},         {"Saurabh", "saurabh"},
    {"राहुल", "rahul"},
};

constexpr PersonName kWorldFemaleNames[] = {
    {"Emma", "emma"},     {"Olivia", "olivia"},
    {"Sofia", "sofia"},   {"Maria", "maria"},
    {"Zoë", "zoe"},       {"Chloé", "chloe"},
    {"Inês", "ines"},     {"Amélie", "amelie"},
    {"Hannah", "hannah"}, {"Aisha", "aisha"},
    {"Mei", "mei"},       {"Yuki", "yuki"},
    {"Layla", "layla"},   {"Noor", "noor"},
    {"Sarah", "sarah"},   {"Małgorzata", "malgorzata"},
};

constexpr PersonName kWorldMaleNames[] = {
    {"James", "james"},   {"Liam", "liam"},         {"Noah", "noah"},
    {"Lucas", "lucas"},   {"José", "jose"},         {"Søren", "soren"},
    {"Łukasz", "lukasz"}, {"François", "francois"}, {"Jürgen", "jurgen"},
    {"Omar", "omar"},     {"Ahmed", "ahmed"},       {"Wei", "wei"},
    {"Kenji", "kenji"},   {"Daniel", "daniel"},     {"Yusuf", "yusuf"},
    {"Mateo", "mateo"},
};

constexpr PersonName kIndianLastNames[] = {
    {"Patil", "patil"},
    {"Sharma", "sharma"},
    {"Verma", "verma"},
    {"Gupta", "gupta"},
    {"Singh", "singh"},
    {"Kumar", "kumar"},
    {"Reddy", "reddy"},
    {"Nair", "nair"},
    {"Iyer", "iyer"},
    {"Menon", "menon"},
    {"Joshi", "joshi"},
    {"Deshpande", "deshpande"},
    {"Kulkarni", "kulkarni"},
    {"Shah", "shah"},
    {"Mehta", "mehta"},
    {"Desai", "desai"},
    {"Chatterjee", "chatterjee"},
    {"Banerjee", "banerjee"},
    {"Das", "das"},
    {"Khan", "khan"},
    {"Sheikh", "sheikh"},
    {"Ansari", "ansari"},
    {"Pillai", "pillai"},
    {"Rao", "rao"},
    {"Naidu", "naidu"},
    {"Agarwal", "agarwal"},
    {"Jain", "jain"},
    {"Malhotra", "malhotra"},
    {"Kapoor", "kapoor"},
    {"Bose", "bose"},
    {"Fernandes", "fernandes"},
    {"D'Souza", "dsouza"},
    {"Gaikwad", "gaikwad"},
    {"पाटील", "patil"},
};

constexpr PersonName kWorldLastNames[] = {
    {"Smith", "smith"},       {"Johnson", "johnson"},
    {"Williams", "williams"}, {"Brown", "brown"},
    {"García", "garcia"},     {"Müller", "muller"},
    {"Nielsen", "nielsen"},   {"Kowalski", "kowalski"},
    {"Silva", "silva"},       {"Gonçalves", "goncalves"},
    {"Dubois", "dubois"},     {"Tanaka", "tanaka"},
    {"Chen", "chen"},         {"Al-Farsi", "alfarsi"},
    {"O'Brien", "obrien"},    {"Ødegaard", "odegaard"},
    {"Rossi", "rossi"},       {"Haddad", "haddad"},
};

// A name's `ascii` form must be lowercase letters only: emails and handles
// end in the profile index, and a letter-only stem is what keeps them unique.
template <size_t N>
constexpr bool AllAsciiLower(const PersonName (&names)[N]) {
  for (const PersonName& name : names) {
    if (name.ascii.empty()) return false;
    for (char c : name.ascii) {
      if (c < 'a' || c > 'z') return false;
    }
  }
  return true;
}
static_assert(AllAsciiLower(kIndianFemaleNames));
static_assert(AllAsciiLower(kIndianMaleNames));
static_assert(AllAsciiLower(kWorldFemaleNames));
static_assert(AllAsciiLower(kWorldMaleNames));
static_assert(AllAsciiLower(kIndianLastNames));
static_assert(AllAsciiLower(kWorldLastNames));

struct Country {
  std::string_view code;          // ISO 3166-1 alpha-2
  std::string_view phone_prefix;  // "+" and the country (and area) code
  std::string_view mobile_leads;  // digits a mobile number may start with
};

constexpr Country kIndia{"IN", "+91", "6789"};
constexpr Country kUae{"AE", "+971", "5"};
constexpr Country kUk{"GB", "+44", "7"};
constexpr Country kSingapore{"SG", "+65", "89"};
constexpr Country kUsa{"US", "+1", "23456789"};
constexpr Country kBrazil{"BR", "+5511", "9"};
constexpr Country kSwitzerland{"CH", "+41", "7"};
constexpr Country kGermany{"DE", "+49", "1"};
constexpr Country kCanada{"CA", "+1", "4"};
constexpr Country kAustralia{"AU", "+61", "4"};
constexpr Country kSaudiArabia{"SA", "+966", "5"};
constexpr Country kQatar{"QA", "+974", "357"};
constexpr Country kNepal{"NP", "+977", "9"};
constexpr Country kBangladesh{"BD", "+880", "1"};
constexpr Country kSriLanka{"LK", "+94", "7"};
constexpr Country kMalaysia{"MY", "+60", "1"};
constexpr Country kFrance{"FR", "+33", "67"};

struct City {
  std::string_view name;
  Country country;
  std::string_view timezone;
  // The regional locale for Indian cities (besides en-IN and hi-IN), the
  // main one elsewhere.
  std::string_view locale;
  // A postal code is the prefix and `zip_digits` random digits; a city
  // without postal codes has neither.
  std::string_view zip_prefix;
  int zip_digits;
  int32_t lat_e4;  // degrees * 10^4
  int32_t lng_e4;
};

constexpr std::string_view kKolkataTz = "Asia/Kolkata";

// In Zipf rank order: the first is the most common. A few international
// cities sit among the Indian ones, as they do in an Indian business's
// customer list (the Gulf and UK diaspora).
constexpr City kCities[] = {
    {"Mumbai", kIndia, kKolkataTz, "mr-IN", "4000", 2, 190760, 728777},
    {"Delhi", kIndia, kKolkataTz, "hi-IN", "1100", 2, 287041, 771025},
    {"Bengaluru", kIndia, kKolkataTz, "kn-IN", "5600", 2, 129716, 775946},
    {"Pune", kIndia, kKolkataTz, "mr-IN", "4110", 2, 185204, 738567},
    {"Hyderabad", kIndia, kKolkataTz, "te-IN", "5000", 2, 173850, 784867},
    {"Chennai", kIndia, kKolkataTz, "ta-IN", "6000", 2, 130827, 802707},
    {"Kolkata", kIndia, kKolkataTz, "bn-IN", "7000", 2, 225726, 883639},
    {"Ahmedabad", kIndia, kKolkataTz, "gu-IN", "3800", 2, 230225, 725714},
    {"Jaipur", kIndia, kKolkataTz, "hi-IN", "3020", 2, 269124, 757873},
    {"Nagpur", kIndia, kKolkataTz, "mr-IN", "4400", 2, 211458, 790882},
    {"Surat", kIndia, kKolkataTz, "gu-IN", "3950", 2, 211702, 728311},
    {"Lucknow", kIndia, kKolkataTz, "hi-IN", "2260", 2, 268467, 809462},
    {"Indore", kIndia, kKolkataTz, "hi-IN", "4520", 2, 227196, 758577},
    {"Nashik", kIndia, kKolkataTz, "mr-IN", "4220", 2, 199975, 737898},
    {"Dubai", kUae, "Asia/Dubai", "ar-AE", "", 0, 252048, 552708},
    {"Kochi", kIndia, kKolkataTz, "ml-IN", "6820", 2, 99312, 762673},
    {"Chandigarh", kIndia, kKolkataTz, "pa-IN", "1600", 2, 307333, 767794},
    {"Coimbatore", kIndia, kKolkataTz, "ta-IN", "6410", 2, 110168, 769558},
    {"Bhopal", kIndia, kKolkataTz, "hi-IN", "4620", 2, 232599, 774126},
    {"Vadodara", kIndia, kKolkataTz, "gu-IN", "3900", 2, 223072, 731812},
    {"Thane", kIndia, kKolkataTz, "mr-IN", "4006", 2, 192183, 729781},
    {"London", kUk, "Europe/London", "en-GB", "SW", 1, 515074, -1278},
    {"Visakhapatnam", kIndia, kKolkataTz, "te-IN", "5300", 2, 176868, 832185},
    {"Patna", kIndia, kKolkataTz, "hi-IN", "8000", 2, 255941, 851376},
    {"Gurugram", kIndia, kKolkataTz, "hi-IN", "1220", 2, 284595, 770266},
    {"Noida", kIndia, kKolkataTz, "hi-IN", "2013", 2, 285355, 773910},
    {"Ludhiana", kIndia, kKolkataTz, "pa-IN", "1410", 2, 309010, 758573},
    {"Singapore", kSingapore, "Asia/Singapore", "en-SG", "23", 4, 13521,
     1038198},
    {"Agra", kIndia, kKolkataTz, "hi-IN", "2820", 2, 271767, 780081},
    {"Mysuru", kIndia, kKolkataTz, "kn-IN", "5700", 2, 122958, 766394},
    {"Thiruvananthapuram", kIndia, kKolkataTz, "ml-IN", "6950", 2, 85241,
     769366},
    {"Guwahati", kIndia, kKolkataTz, "as-IN", "7810", 2, 261445, 917362},
    {"Bhubaneswar", kIndia, kKolkataTz, "or-IN", "7510", 2, 202961, 858245},
    {"New York", kUsa, "America/New_York", "en-US", "100", 2, 407128, -740060},
    {"Dehradun", kIndia, kKolkataTz, "hi-IN", "2480", 2, 303165, 780322},
    {"Madurai", kIndia, kKolkataTz, "ta-IN", "6250", 2, 99252, 781198},
    {"Aurangabad", kIndia, kKolkataTz, "mr-IN", "4310", 2, 198762, 753433},
    {"Rajkot", kIndia, kKolkataTz, "gu-IN", "3600", 2, 223039, 708022},
    {"Varanasi", kIndia, kKolkataTz, "hi-IN", "2210", 2, 253176, 829739},
    {"Amritsar", kIndia, kKolkataTz, "pa-IN", "1430", 2, 316340, 748723},
    {"Abu Dhabi", kUae, "Asia/Dubai", "ar-AE", "", 0, 244539, 543773},
    {"Panaji", kIndia, kKolkataTz, "kok-IN", "4030", 2, 154909, 738278},
    {"Mangaluru", kIndia, kKolkataTz, "kn-IN", "5750", 2, 129141, 748560},
    {"São Paulo", kBrazil, "America/Sao_Paulo", "pt-BR", "01310-", 3, -235505,
     -466333},
    {"Vijayawada", kIndia, kKolkataTz, "te-IN", "5200", 2, 165062, 806480},
    {"Raipur", kIndia, kKolkataTz, "hi-IN", "4920", 2, 212514, 816296},
    {"Zürich", kSwitzerland, "Europe/Zurich", "de-CH", "80", 2, 473769, 85417},
    {"Ranchi", kIndia, kKolkataTz, "hi-IN", "8340", 2, 233441, 853096},
    {"Jodhpur", kIndia, kKolkataTz, "hi-IN", "3420", 2, 262389, 730243},
    {"München", kGermany, "Europe/Berlin", "de-DE", "80", 3, 481351, 115820},
    {"Toronto", kCanada, "America/Toronto", "en-CA", "M5V", 0, 436532, -793832},
    {"Sydney", kAustralia, "Australia/Sydney", "en-AU", "20", 2, -338688,
     1512093},
    {"Riyadh", kSaudiArabia, "Asia/Riyadh", "ar-SA", "11", 3, 247136, 466753},
    {"Doha", kQatar, "Asia/Qatar", "ar-QA", "", 0, 252854, 515310},
    {"Kathmandu", kNepal, "Asia/Kathmandu", "ne-NP", "446", 2, 277172, 853240},
    {"Dhaka", kBangladesh, "Asia/Dhaka", "bn-BD", "1", 3, 238103, 904125},
    {"Colombo", kSriLanka, "Asia/Colombo", "si-LK", "00", 3, 69271, 798612},
    {"Kuala Lumpur", kMalaysia, "Asia/Kuala_Lumpur", "ms-MY", "50", 3, 31390,
     1016869},
    {"Paris", kFrance, "Europe/Paris", "fr-FR", "750", 2, 488566, 23522},
    {"San Francisco", kUsa, "America/Los_Angeles", "en-US", "941", 2, 377749,
     -1224194},
};
constexpr auto kCityWeights = ZipfWeights<std::size(kCities)>();

// In popularity order (Zipf): generic acquisition tags first, rarer
// business labels later.
constexpr std::string_view kTags[] = {
    "newsletter",
    "source-website",
    "source-whatsapp",
    "returning",
    "high-intent",
    "discount-seeker",
    "source-instagram",
    "vip",
    "mobile-app",
    "cod-preferred",
    "festive-shopper",
    "first-order",
    "abandoned-cart",
    "repeat-buyer",
    "webinar-attendee",
    "source-referral",
    "price-sensitive",
    "premium",
    "b2b",
    "wholesale",
    "early-adopter",
    "feedback-given",
    "loyalty-member",
    "support-ticket",
    "demo-booked",
    "trial-expired",
    "influencer",
    "student",
    "corporate",
    "reseller",
    "beta-tester",
    "event-attendee",
    "partner",
    "churn-risk",
    "upsell-candidate",
    "nps-promoter",
    "nps-detractor",
    "gift-buyer",
    "bulk-order",
    "do-not-contact",
};
constexpr auto kTagWeights = ZipfWeights<std::size(kTags)>();

// The channel order is the identities' key order; Channel indexes it.
enum class Channel : uint8_t {
  kWhatsapp,
  kWidget,
  kEmail,
  kInstagram,
  kMessenger
};
constexpr auto kChannels = MakeChoice({{"whatsapp", 45},
                                       {"widget", 25},
                                       {"email", 15},
                                       {"instagram", 10},
                                       {"messenger", 5}});
static_assert(kChannels.texts[static_cast<size_t>(Channel::kMessenger)] ==
              "messenger");

constexpr size_t kOrderEvent = 3;  // index of "order" in kEventNames
// "order" has weight 0: order events come from `orders`, so that a profile
// without orders never has one.
constexpr auto kEventNames = MakeChoice({{"viewed_product", 24},
                                         {"opened_email", 19},
                                         {"clicked_link", 15},
                                         {"order", 0},
                                         {"replied_whatsapp", 12},
                                         {"visited_pricing_page", 10},
                                         {"cart_abandoned", 11},
                                         {"requested_demo", 4},
                                         {"started_trial", 3},
                                         {"unsubscribed", 2}});
static_assert(kEventNames.texts[kOrderEvent] == "order");

constexpr auto kEmailDomains = MakeChoice({{"gmail.com", 40},
                                           {"yahoo.com", 12},
                                           {"outlook.com", 10},
                                           {"hotmail.com", 8},
                                           {"rediffmail.com", 7},
                                           {"icloud.com", 5},
                                           {"yahoo.co.in", 4},
                                           {"protonmail.com", 2},
                                           {"acme.co.in", 3},
                                           {"globexcorp.com", 3},
                                           {"initech.in", 2},
                                           {"brightlabs.io", 2},
                                           {"sunrisefoods.in", 2}});

constexpr auto kGenders =
    MakeChoice({{"female", 48}, {"male", 48}, {"other", 4}});
// Lifecycle indexes kLifecycles.
enum class Lifecycle : uint8_t { kNew, kActive, kDormant, kChurned };
constexpr auto kLifecycles =
    MakeChoice({{"new", 10}, {"active", 45}, {"dormant", 30}, {"churned", 15}});
static_assert(kLifecycles.texts[static_cast<size_t>(Lifecycle::kChurned)] ==
              "churned");
constexpr auto kPlans =
    MakeChoice({{"free", 50}, {"starter", 25}, {"pro", 18}, {"enterprise", 7}});
constexpr std::string_view kCustomerTypes[] = {"guest", "lead", "customer"};

// Shares of profiles that have each key (SPEC §1 says an absent key and
// null are the same; a few nulls keep ingest honest).
constexpr double kNullShareOfAbsent = 0.02;
constexpr double kNameShare = 0.98;
constexpr double kEmailShare = 0.85;
constexpr double kPhoneShare = 0.80;
constexpr double kGenderShare = 0.90;
constexpr double kBirthdayShare = 0.40;
constexpr double kLocaleShare = 0.90;
constexpr double kTimezoneShare = 0.85;
constexpr double kChannelShare = 0.97;
constexpr double kCityShare = 0.95;
constexpr double kCountryShare = 0.92;
constexpr double kSignedUpShare = 0.70;
constexpr double kWebSessionsShare = 0.85;
constexpr double kOrdersShare = 0.92;
constexpr double kCsatShare = 0.30;
constexpr double kLeadScoreShare = 0.50;
constexpr double kPlanShare = 0.60;
constexpr double kCustomerTypeShare = 0.01;
constexpr double kTrialUserShare = 0.20;
constexpr double kTagsShare = 0.90;
constexpr double kEmptyTagsShare = 0.02 / kTagsShare;  // 2% of all profiles
constexpr double kAddressShare = 0.30;
constexpr double kGeoShareOfAddress = 0.05;
constexpr double kLastItemsShare = 0.03;
constexpr double kIdentitiesShare = 0.70;
constexpr double kEventsShare = 0.75;

constexpr int64_t kSecondsPerDay = kMillisPerDay / kMillisPerSecond;

// ---------------------------------------------------------------------------
// Text. base/time.h's FormatIsoInstant returns a std::string built with
// snprintf; ten dates per profile, ten million profiles, want less.

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// How a date-time is written: SPEC §1 accepts all three.
enum class TimeStyle : uint8_t { kUtc, kUtcMillis, kIndiaOffset };

// Writes `value` as exactly `width` digits (zero-padded) and returns the end.
char* PutDigits(char* p, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return p + width;
}

void AppendUint(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

void AppendDigits(std::string& out, uint64_t value, int width) {
  char buf[24];
  out.append(buf, PutDigits(buf, value, width));
}

// "00" to "99", so that dates take one lookup per field.
constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

// Two digits of `value` < 100.
char* PutTwoDigits(char* p, int64_t value) {
  std::memcpy(p, &kDigitPairs[2 * value], 2);
  return p + 2;
}

// "YYYY-MM-DD". REQUIRES: a year in 0..9999.
char* PutDate(char* p, int64_t days) {
  const CivilDate date = CivilFromDays(days);
  p = PutTwoDigits(p, date.year / 100);
  p = PutTwoDigits(p, date.year % 100);
  *p++ = '-';
  p = PutTwoDigits(p, date.month);
  *p++ = '-';
  return PutTwoDigits(p, date.day);
}

// "YYYY-MM-DDTHH:MM:SS" then "Z", ".mmmZ" or "+05:30" by `style`.
char* PutDateTime(char* p, int64_t ms, TimeStyle style) {
  constexpr int64_t kIndiaOffsetMs = 330 * kMillisPerMinute;
  if (style == TimeStyle::kIndiaOffset) ms += kIndiaOffsetMs;
  const int64_t days = FloorDiv(ms, kMillisPerDay);
  const int64_t in_day = ms - days * kMillisPerDay;
  p = PutDate(p, days);
  *p++ = 'T';
  p = PutTwoDigits(p, in_day / kMillisPerHour);
  *p++ = ':';
  p = PutTwoDigits(p, in_day / kMillisPerMinute % 60);
  *p++ = ':';
  p = PutTwoDigits(p, in_day / kMillisPerSecond % 60);
  switch (style) {
    case TimeStyle::kUtc:
      *p++ = 'Z';
      break;
    case TimeStyle::kUtcMillis:
      *p++ = '.';
      p = PutDigits(p, static_cast<uint64_t>(in_day % kMillisPerSecond), 3);
      *p++ = 'Z';
      break;
    case TimeStyle::kIndiaOffset:
      std::memcpy(p, "+05:30", 6);
      p += 6;
      break;
  }
  return p;
}

// ---------------------------------------------------------------------------
// A sampled profile: every random decision, made before any text is written
// so that writing is plain formatting.

enum class Presence : uint8_t { kAbsent, kNull, kPresent };

template <typename T>
struct Field {
  Presence presence = Presence::kAbsent;
  T value{};
};

struct Event {
  int64_t at_ms;
  uint8_t name;  // index into kEventNames
};

struct LastItem {
  uint32_t sku;
  uint32_t qty;
};

struct Address {
  std::string_view city;
  std::string zip;  // empty: no zip key
  bool has_geo = false;
  int32_t lat_e4 = 0;
  int32_t lng_e4 = 0;
};

constexpr size_t kMaxTags = 5;
constexpr size_t kMaxEvents = 10;
constexpr size_t kMaxLastItems = 3;

// Reused from profile to profile of a block, so its strings stop allocating
// after the first few.
struct Profile {
  uint64_t index = 0;
  Field<std::string> name;
  Field<std::string> email;
  Field<std::string> phone;
  Field<std::string_view> gender;
  Field<int64_t> birthday_days;
  Field<std::string_view> locale;
  Field<std::string_view> timezone;
  Field<std::string_view> channel;
  Field<std::string> city;
  Field<std::string_view> country;
  int64_t first_seen_ms = 0;
  TimeStyle first_seen_style = TimeStyle::kUtc;
  int64_t last_seen_ms = 0;
  Field<int64_t> signed_up_days;
  Field<int64_t> web_sessions;
  Field<int64_t> orders;
  Field<int> csat_tenths;
  Field<int64_t> lead_score;
  std::string_view lifecycle;
  Field<std::string_view> plan;
  Field<uint64_t> customer_id;
  Field<std::string_view> customer_type;
  Field<bool> trial_user;
  Field<std::array<uint8_t, kMaxTags>> tags;  // indexes into kTags
  size_t tag_count = 0;
  Field<Address> address;
  std::array<LastItem, kMaxLastItems> last_items{};
  size_t last_item_count = 0;  // 0: no last_items key
  // Identities: one handle per channel whose bit is set, in kChannels order.
  Field<uint8_t> identity_channels;
  std::array<std::string, std::size(kChannels.texts)> handles;
  Field<std::array<Event, kMaxEvents>> events;
  size_t event_count = 0;
};

// Hidden facts the visible fields are derived from; some are sampled even
// when their key is left out, so that (for example) the whatsapp identity
// and the phone agree.
struct Person {
  const City* city;
  const PersonName* first;
  const PersonName* last;
  bool indian;
  size_t channel;  // index into kChannels
  int64_t first_seen_s;
  int64_t last_seen_s;
  int64_t orders;
};

Presence RollPresence(Rng& rng, double share) {
  if (rng.Chance(share)) return Presence::kPresent;
  return rng.Chance(kNullShareOfAbsent) ? Presence::kNull : Presence::kAbsent;
}

template <typename T, size_t N>
const T& PickUniform(Rng& rng, const T (&items)[N]) {
  return items[rng.Below(N)];
}

void SampleName(Rng& rng, const Field<std::string_view>& gender, Person& person,
                Profile& profile) {
  const bool female =
      gender.value == "female" || (gender.value != "male" && rng.Chance(0.5));
  const bool indian = person.indian;
  if (female) {
    person.first = indian ? &PickUniform(rng, kIndianFemaleNames)
                          : &PickUniform(rng, kWorldFemaleNames);
  } else {
    person.first = indian ? &PickUniform(rng, kIndianMaleNames)
                          : &PickUniform(rng, kWorldMaleNames);
  }
  // Mixed names (an Indian first name with a European last name and the
  // reverse) happen, if rarely.
  const bool indian_last = rng.Chance(0.95) ? indian : !indian;
  person.last = indian_last ? &PickUniform(rng, kIndianLastNames)
                            : &PickUniform(rng, kWorldLastNames);
  profile.name.presence = RollPresence(rng, kNameShare);
  profile.name.value.assign(person.first->text);
  profile.name.value.push_back(' ');
  profile.name.value.append(person.last->text);
}

// Capitalizes the first letter of the address and of each part after '.' or
// '@': "asha.patil12@gmail.com" becomes "Asha.Patil12@Gmail.com".
void CapitalizeEmail(std::string& email) {
  bool start = true;
  for (char& c : email) {
    if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    start = c == '.' || c == '@';
    if (c == '@') break;
  }
  const size_t at = email.find('@');
  if (at + 1 < email.size()) {
    char& c = email[at + 1];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
}

// The local part is a letter-only stem followed by the profile index, so no
// two profiles share an address, even folded to one case.
void SampleEmail(Rng& rng, const Person& person, Profile& profile) {
  std::string& email = profile.email.value;
  email.clear();
  const std::string_view first = person.first->ascii;
  const std::string_view last = person.last->ascii;
  switch (rng.Below(5)) {
    case 0:
    case 1:
      email.append(first).append(".").append(last);
      break;
    case 2:
      email.append(first).append(last);
      break;
    case 3:
      email.append(first).append("_").append(last);
      break;
    default:
      email.append(first.substr(0, 1)).append(last);
      break;
  }
  AppendUint(email, profile.index);
  email.push_back('@');
  email.append(kEmailDomains.Sample(rng));
  if (rng.Chance(0.02)) CapitalizeEmail(email);
  profile.email.presence = RollPresence(rng, kEmailShare);
}

// A mobile number: the country prefix, a leading digit, then 9 digits that
// are a permutation of the profile index, hence unique.
void SamplePhone(Rng& rng, uint64_t seed, const Person& person,
                 Profile& profile) {
  constexpr uint64_t kModulus = 1'000'000'000;
  constexpr uint64_t kMultiplier = 387'420'489;  // 3^18, coprime to 10
  const Country& country = person.city->country;
  std::string& phone = profile.phone.value;
  phone.assign(country.phone_prefix);
  phone.push_back(country.mobile_leads[rng.Below(country.mobile_leads.size())]);
  const uint64_t digits = AffinePermute(profile.index, kModulus, kMultiplier,
                                        Mix64(seed ^ 0x5048) % kModulus);
  AppendDigits(phone, digits, 9);
  profile.phone.presence = RollPresence(rng, kPhoneShare);
}

// Days since the epoch of a birthday between 1950 and 2008, most of them
// between 1980 and 2005.
int64_t SampleBirthdayDays(Rng& rng) {
  const int64_t year =
      rng.Chance(0.7) ? rng.Between(1980, 2005) : rng.Between(1950, 2008);
  const int64_t start = DaysFromCivil(year, 1, 1);
  const int64_t end = DaysFromCivil(year + 1, 1, 1);
  return start + rng.Between(0, end - start - 1);
}

std::string_view SampleLocale(Rng& rng, const City& city) {
  if (city.country.code == "IN") {
    const uint64_t r = rng.Below(100);
    if (r < 55) return "en-IN";
    if (r < 85) return city.locale;
    return "hi-IN";
  }
  return rng.Chance(0.75) ? city.locale : "en-US";
}

// About 1% of cities are written in another ASCII case ("pune", "MUMBAI");
// SPEC §2 compares strings with ASCII case folded.
void SampleCityText(Rng& rng, const City& city, std::string& text) {
  text.assign(city.name);
  if (!rng.Chance(0.01)) return;
  const bool upper = rng.Chance(0.5);
  for (char& c : text) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

void SampleDemographics(Rng& rng, Person& person, Profile& profile) {
  person.city = &kCities[kCityWeights.Sample(rng)];
  const City& city = *person.city;
  person.indian = city.country.code == "IN" ? rng.Chance(0.9) : rng.Chance(0.3);

  profile.gender.presence = RollPresence(rng, kGenderShare);
  profile.gender.value = kGenders.Sample(rng);
  profile.birthday_days.presence = RollPresence(rng, kBirthdayShare);
  if (profile.birthday_days.presence == Presence::kPresent) {
    profile.birthday_days.value = SampleBirthdayDays(rng);
  }
  profile.locale = {RollPresence(rng, kLocaleShare), SampleLocale(rng, city)};
  profile.timezone = {RollPresence(rng, kTimezoneShare), city.timezone};
  person.channel = kChannels.SampleIndex(rng);
  profile.channel = {RollPresence(rng, kChannelShare),
                     kChannels.texts[person.channel]};
  profile.city.presence = RollPresence(rng, kCityShare);
  SampleCityText(rng, city, profile.city.value);
  profile.country = {RollPresence(rng, kCountryShare), city.country.code};
}

// Lifecycle, first and last seen, signup. Times are in seconds; the
// lifecycle decides how long ago the profile was last seen.
void SampleTimeline(Rng& rng, int64_t now_s, Person& person, Profile& profile) {
  constexpr int64_t kDay = kSecondsPerDay;
  constexpr int64_t kHistory = 4 * 365 * kDay;
  const size_t lifecycle = kLifecycles.SampleIndex(rng);
  profile.lifecycle = kLifecycles.texts[lifecycle];
  int64_t age = 0;  // first seen, seconds ago
  int64_t gap = 0;  // last seen, seconds ago
  switch (static_cast<Lifecycle>(lifecycle)) {
    case Lifecycle::kNew:  // first seen in the last 30 days
      age = rng.Between(0, 30 * kDay);
      gap = rng.Skewed(age + 1, 2);
      break;
    case Lifecycle::kActive:  // seen in the last 30 days
      age = rng.Between(30 * kDay, kHistory);
      gap = rng.Skewed(30 * kDay, 2);
      break;
    case Lifecycle::kDormant:  // last seen 30 to 180 days ago
      age = rng.Between(60 * kDay, kHistory);
      gap = rng.Between(30 * kDay, std::min(180 * kDay, age));
      break;
    case Lifecycle::kChurned:  // not seen for over 180 days
      age = rng.Between(200 * kDay, kHistory);
      gap = rng.Between(180 * kDay, age);
      break;
  }
  person.first_seen_s = now_s - age;
  person.last_seen_s = now_s - gap;
  profile.first_seen_ms = person.first_seen_s * kMillisPerSecond;
  profile.last_seen_ms = person.last_seen_s * kMillisPerSecond;
  const uint64_t style = rng.Below(10);
  if (style == 0) {
    profile.first_seen_style = TimeStyle::kIndiaOffset;
  } else if (style == 1) {
    // Earlier, never later, so first_seen stays before every other time.
    profile.first_seen_style = TimeStyle::kUtcMillis;
    profile.first_seen_ms -= rng.Between(1, 999);
  } else {
    profile.first_seen_style = TimeStyle::kUtc;
  }

  // Most people sign up soon after their first visit.
  profile.signed_up_days.presence = RollPresence(rng, kSignedUpShare);
  const int64_t signed_up_s =
      person.first_seen_s +
      rng.Skewed(person.last_seen_s - person.first_seen_s + 1, 3);
  profile.signed_up_days.value = FloorDiv(signed_up_s, kSecondsPerDay);
}

void SampleNumbers(Rng& rng, Person& person, Profile& profile) {
  profile.web_sessions = {RollPresence(rng, kWebSessionsShare),
                          static_cast<int64_t>(rng.Skewed(501, 3))};
  // 60% never ordered; among buyers, P(orders >= 5) = 0.62^4 ~ 15%.
  person.orders =
      rng.Chance(0.40) ? 1 + static_cast<int64_t>(rng.Geometric(0.62, 499)) : 0;
  profile.orders = {RollPresence(rng, kOrdersShare), person.orders};
  profile.csat_tenths = {RollPresence(rng, kCsatShare),
                         50 - static_cast<int>(rng.Skewed(41, 2))};
  profile.lead_score = {
      RollPresence(rng, kLeadScoreShare),
      static_cast<int64_t>((rng.Below(101) + rng.Below(101)) / 2)};
}

void SampleCommerce(Rng& rng, const Person& person, Profile& profile) {
  profile.plan = {RollPresence(rng, kPlanShare), kPlans.Sample(rng)};
  const bool has_customer_id =
      person.orders >= 1 ? rng.Chance(0.9) : rng.Chance(0.03);
  profile.customer_id = {
      has_customer_id ? Presence::kPresent : Presence::kAbsent,
      profile.index + 1};
  // Normally derived by segd (SPEC §1); a few records set it themselves.
  profile.customer_type = {
      rng.Chance(kCustomerTypeShare) ? Presence::kPresent : Presence::kAbsent,
      PickUniform(rng, kCustomerTypes)};
  profile.trial_user = {RollPresence(rng, kTrialUserShare), rng.Chance(0.4)};
}

void SampleTags(Rng& rng, Profile& profile) {
  profile.tag_count = 0;
  profile.tags.presence = RollPresence(rng, kTagsShare);
  if (profile.tags.presence != Presence::kPresent ||
      rng.Chance(kEmptyTagsShare)) {
    return;
  }
  // 1 to 5 tags, fewer more often.
  const size_t wanted = 1 + rng.Skewed(kMaxTags, 2);
  auto& tags = profile.tags.value;
  // Redraw duplicates; the attempt cap bounds the loop.
  for (int attempt = 0; attempt < 20 && profile.tag_count < wanted; ++attempt) {
    const auto tag = static_cast<uint8_t>(kTagWeights.Sample(rng));
    const auto end = tags.begin() + profile.tag_count;
    if (std::find(tags.begin(), end, tag) == end) {
      tags[profile.tag_count++] = tag;
    }
  }
}

void SampleAddress(Rng& rng, const City& city, Profile& profile) {
  profile.address.presence =
      rng.Chance(kAddressShare) ? Presence::kPresent : Presence::kAbsent;
  if (profile.address.presence != Presence::kPresent) return;
  Address& address = profile.address.value;
  address.city = city.name;
  address.zip.clear();
  if (!city.zip_prefix.empty()) {
    address.zip.assign(city.zip_prefix);
    for (int i = 0; i < city.zip_digits; ++i) {
      address.zip.push_back(static_cast<char>('0' + rng.Below(10)));
    }
  }
  address.has_geo = rng.Chance(kGeoShareOfAddress);
  // Within about 5 km of the city centre.
  address.lat_e4 = city.lat_e4 + static_cast<int32_t>(rng.Between(-500, 500));
  address.lng_e4 = city.lng_e4 + static_cast<int32_t>(rng.Between(-500, 500));
}

// An array of objects: a value SPEC §1 keeps but cannot index.
void SampleLastItems(Rng& rng, Profile& profile) {
  profile.last_item_count = 0;
  if (!rng.Chance(kLastItemsShare)) return;
  profile.last_item_count = 1 + rng.Skewed(kMaxLastItems, 2);
  for (size_t i = 0; i < profile.last_item_count; ++i) {
    profile.last_items[i] = {static_cast<uint32_t>(rng.Between(1, 500)),
                             static_cast<uint32_t>(rng.Between(1, 5))};
  }
}

void AppendHex16(std::string& out, uint64_t value) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) {
    out.push_back(kHex[(value >> shift) & 0xF]);
  }
}

// Every handle is built from the profile index (directly or through a
// bijection), so no (channel, handle) pair is claimed twice (SPEC §1).
void SampleIdentities(Rng& rng, uint64_t seed, const Person& person,
                      Profile& profile) {
  profile.identity_channels.presence =
      rng.Chance(kIdentitiesShare) ? Presence::kPresent : Presence::kAbsent;
  if (profile.identity_channels.presence != Presence::kPresent) return;
  uint8_t channels = uint8_t{1} << person.channel;
  for (size_t c = 0; c < kChannels.texts.size(); ++c) {
    if (rng.Chance(0.2)) channels |= uint8_t{1} << c;
  }
  profile.identity_channels.value = channels;
  auto& handles = profile.handles;
  auto has = [channels](Channel c) {
    return (channels >> static_cast<int>(c)) & 1;
  };
  if (has(Channel::kWhatsapp)) {
    handles[static_cast<size_t>(Channel::kWhatsapp)] = profile.phone.value;
  }
  if (has(Channel::kEmail)) {
    handles[static_cast<size_t>(Channel::kEmail)] = profile.email.value;
  }
  if (has(Channel::kInstagram)) {
    std::string& handle = handles[static_cast<size_t>(Channel::kInstagram)];
    handle.assign("@").append(person.first->ascii);
    if (rng.Chance(0.5)) handle.append("_").append(person.last->ascii);
    AppendUint(handle, profile.index);
  }
  if (has(Channel::kWidget)) {
    std::string& handle = handles[static_cast<size_t>(Channel::kWidget)];
    handle.assign("v-");
    AppendHex16(handle, Mix64(profile.index ^ Mix64(seed ^ 0x57)));
  }
  if (has(Channel::kMessenger)) {
    // Page-scoped ids look like 16-digit numbers.
    constexpr uint64_t kModulus = 1'000'000'000'000'000;
    constexpr uint64_t kMultiplier = 617'673'396'283'947;  // 3^31, coprime
    std::string& handle = handles[static_cast<size_t>(Channel::kMessenger)];
    handle.assign("2");
    const uint64_t id = AffinePermute(profile.index, kModulus, kMultiplier,
                                      Mix64(seed ^ 0x4D) % kModulus);
    AppendDigits(handle, id, 15);
  }
}

// Events happen between first and last seen, within the last two years, and
// crowd towards the last visit, so recent windows ("cart_abandoned in the
// last 48h") select a small share of profiles.
void SampleEvents(Rng& rng, int64_t now_s, const Person& person,
                  Profile& profile) {
  profile.event_count = 0;
  profile.events.presence = RollPresence(rng, kEventsShare);
  if (profile.events.presence != Presence::kPresent || rng.Chance(0.03)) {
    return;
  }
  const int64_t hi = person.last_seen_s;
  int64_t lo = std::max(person.first_seen_s, now_s - 730 * kSecondsPerDay);
  if (lo > hi) lo = person.first_seen_s;
  auto& events = profile.events.value;
  auto add = [&](size_t name) {
    const int64_t at_s = hi - static_cast<int64_t>(rng.Skewed(hi - lo + 1, 3));
    events[profile.event_count++] = {at_s * kMillisPerSecond,
                                     static_cast<uint8_t>(name)};
  };
  if (person.orders >= 1 && rng.Chance(0.9)) {
    const int64_t order_events = std::min<int64_t>(person.orders, 3);
    for (int64_t i = 0; i < order_events; ++i) add(kOrderEvent);
  }
  const size_t others =
      std::min(kMaxEvents - profile.event_count, 1 + rng.Skewed(8, 2));
  for (size_t i = 0; i < others; ++i) add(kEventNames.SampleIndex(rng));
  // Ties broken by name: std::sort is not stable, and the order of equal
  // elements may differ between standard libraries.
  std::sort(events.begin(), events.begin() + profile.event_count,
            [](const Event& a, const Event& b) {
              return std::tie(a.at_ms, a.name) < std::tie(b.at_ms, b.name);
            });
}

void SampleProfile(const GenOptions& options, uint64_t index,
                   Profile& profile) {
  Rng rng(options.seed, index);
  const int64_t now_s = options.now_ms / kMillisPerSecond;
  profile.index = index;
  Person person{};
  SampleDemographics(rng, person, profile);
  SampleName(rng, profile.gender, person, profile);
  SampleEmail(rng, person, profile);
  SamplePhone(rng, options.seed, person, profile);
  SampleTimeline(rng, now_s, person, profile);
  SampleNumbers(rng, person, profile);
  SampleCommerce(rng, person, profile);
  SampleTags(rng, profile);
  SampleAddress(rng, *person.city, profile);
  SampleLastItems(rng, profile);
  SampleIdentities(rng, options.seed, person, profile);
  SampleEvents(rng, now_s, person, profile);
}

// ---------------------------------------------------------------------------
// Writing: a sampled profile as one line of compact JSON.

void AppendDate(std::string& out, int64_t days) {
  char buf[16];
  AppendJsonString(out, std::string_view(buf, PutDate(buf, days) - buf));
}

void AppendDateTime(std::string& out, int64_t ms, TimeStyle style) {
  char buf[40];
  AppendJsonString(out,
                   std::string_view(buf, PutDateTime(buf, ms, style) - buf));
}

void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

// Shortest text that reads back as the same double.
void AppendDouble(std::string& out, double value) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

// `"key":` after a comma. Keys are our own ASCII identifiers: nothing to
// escape. Every key but the first ("id") goes through here.
void AppendKey(std::string& out, std::string_view key) {
  // One append instead of three: this runs ~25 times per profile.
  char buf[32] = {',', '"'};
  assert(key.size() + 4 <= sizeof(buf));
  std::memcpy(buf + 2, key.data(), key.size());
  buf[key.size() + 2] = '"';
  buf[key.size() + 3] = ':';
  out.append(buf, key.size() + 4);
}

// Writes the key, and `null` for a null field; true if the caller should
// write the value.
template <typename T>
bool BeginField(std::string& out, std::string_view key, const Field<T>& field) {
  if (field.presence == Presence::kAbsent) return false;
  AppendKey(out, key);
  if (field.presence == Presence::kNull) {
    out.append("null");
    return false;
  }
  return true;
}

void AppendStringField(std::string& out, std::string_view key,
                       const Field<std::string>& field) {
  if (BeginField(out, key, field)) AppendJsonString(out, field.value);
}

void AppendStringField(std::string& out, std::string_view key,
                       const Field<std::string_view>& field) {
  if (BeginField(out, key, field)) AppendJsonString(out, field.value);
}

void AppendIntField(std::string& out, std::string_view key,
                    const Field<int64_t>& field) {
  if (BeginField(out, key, field)) AppendInt(out, field.value);
}

void AppendId(std::string& out, uint64_t index) {
  char buf[32] = {'c', '-'};
  char* end = buf + 2;
  if (index < 100'000'000) {
    end = PutDigits(end, index, 8);
  } else {
    end = std::to_chars(end, buf + sizeof(buf), index).ptr;
  }
  AppendJsonString(out, std::string_view(buf, end - buf));
}

void AppendTags(std::string& out, const Profile& profile) {
  if (!BeginField(out, "tags", profile.tags)) return;
  out.push_back('[');
  for (size_t i = 0; i < profile.tag_count; ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, kTags[profile.tags.value[i]]);
  }
  out.push_back(']');
}

void AppendAddress(std::string& out, const Field<Address>& field) {
  if (!BeginField(out, "address", field)) return;
  const Address& address = field.value;
  out.append("{\"city\":");
  AppendJsonString(out, address.city);
  if (!address.zip.empty()) {
    out.append(",\"zip\":");
    AppendJsonString(out, address.zip);
  }
  if (address.has_geo) {
    out.append(",\"geo\":{\"lat\":");
    AppendDouble(out, address.lat_e4 / 1e4);
    out.append(",\"lng\":");
    AppendDouble(out, address.lng_e4 / 1e4);
    out.push_back('}');
  }
  out.push_back('}');
}

void AppendLastItems(std::string& out, const Profile& profile) {
  if (profile.last_item_count == 0) return;
  AppendKey(out, "last_items");
  out.push_back('[');
  for (size_t i = 0; i < profile.last_item_count; ++i) {
    const LastItem& item = profile.last_items[i];
    if (i > 0) out.push_back(',');
    char buf[16] = {'S', 'K', 'U', '-'};
    char* end = std::to_chars(buf + 4, buf + sizeof(buf), item.sku).ptr;
    out.append("{\"sku\":");
    AppendJsonString(out, std::string_view(buf, end - buf));
    out.append(",\"qty\":");
    AppendInt(out, item.qty);
    out.push_back('}');
  }
  out.push_back(']');
}

void AppendIdentities(std::string& out, const Profile& profile) {
  if (!BeginField(out, "identities", profile.identity_channels)) return;
  out.push_back('{');
  bool first = true;
  for (size_t c = 0; c < kChannels.texts.size(); ++c) {
    if (((profile.identity_channels.value >> c) & 1) == 0) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, kChannels.texts[c]);
    out.push_back(':');
    AppendJsonString(out, profile.handles[c]);
  }
  out.push_back('}');
}

void AppendEvents(std::string& out, const Profile& profile) {
  if (!BeginField(out, "events", profile.events)) return;
  out.push_back('[');
  for (size_t i = 0; i < profile.event_count; ++i) {
    const Event& event = profile.events.value[i];
    if (i > 0) out.push_back(',');
    out.append("{\"name\":");
    AppendJsonString(out, kEventNames.texts[event.name]);
    out.append(",\"at\":");
    AppendDateTime(out, event.at_ms, TimeStyle::kUtc);
    out.push_back('}');
  }
  out.push_back(']');
}

// One line of NDJSON, keys in SPEC §1's order.
void AppendProfileLine(const Profile& p, std::string& out) {
  out.append("{\"id\":");
  AppendId(out, p.index);
  AppendStringField(out, "name", p.name);
  AppendStringField(out, "email", p.email);
  AppendStringField(out, "phone", p.phone);
  AppendStringField(out, "gender", p.gender);
  if (BeginField(out, "birthday", p.birthday_days)) {
    AppendDate(out, p.birthday_days.value);
  }
  AppendStringField(out, "locale", p.locale);
  AppendStringField(out, "timezone", p.timezone);
  AppendStringField(out, "channel", p.channel);
  AppendStringField(out, "city", p.city);
  AppendStringField(out, "country", p.country);
  AppendKey(out, "first_seen");
  AppendDateTime(out, p.first_seen_ms, p.first_seen_style);
  AppendKey(out, "last_seen");
  AppendDateTime(out, p.last_seen_ms, TimeStyle::kUtc);
  if (BeginField(out, "signed_up", p.signed_up_days)) {
    AppendDate(out, p.signed_up_days.value);
  }
  AppendIntField(out, "web_sessions", p.web_sessions);
  AppendIntField(out, "orders", p.orders);
  if (BeginField(out, "csat", p.csat_tenths)) {
    // One decimal always ("5.0", not "5"), so csat reads as a double.
    char buf[8];
    const auto result =
        std::to_chars(buf, buf + sizeof(buf), p.csat_tenths.value / 10.0,
                      std::chars_format::fixed, 1);
    out.append(buf, result.ptr);
  }
  AppendIntField(out, "lead_score", p.lead_score);
  AppendKey(out, "lifecycle");
  AppendJsonString(out, p.lifecycle);
  AppendStringField(out, "plan", p.plan);
  if (BeginField(out, "customer_id", p.customer_id)) {
    char buf[32] = {'s', 'h', 'o', 'p', '-'};
    char* end =
        std::to_chars(buf + 5, buf + sizeof(buf), p.customer_id.value).ptr;
    AppendJsonString(out, std::string_view(buf, end - buf));
  }
  AppendStringField(out, "customer_type", p.customer_type);
  if (BeginField(out, "trial_user", p.trial_user)) {
    out.append(p.trial_user.value ? "true" : "false");
  }
  AppendTags(out, p);
  AppendAddress(out, p.address);
  AppendLastItems(out, p);
  AppendIdentities(out, p);
  AppendEvents(out, p);
  out.append("}\n");
}

// ---------------------------------------------------------------------------
// Blocks: generated in parallel, written in order.

constexpr uint64_t kBlockSize = 16384;
constexpr size_t kBytesPerProfileHint = 640;

// Profiles [begin, end) of the run, relative to options.first_index.
std::string GenerateBlock(const GenOptions& options, uint64_t begin,
                          uint64_t end) {
  std::string text;
  text.reserve((end - begin) * kBytesPerProfileHint);
  Profile profile;
  for (uint64_t k = begin; k < end; ++k) {
    SampleProfile(options, options.first_index + k, profile);
    AppendProfileLine(profile, text);
  }
  return text;
}

// Calls `sink(block_text)` for every block in order, stopping at the first
// false. A pipeline rather than a parallel_for over all blocks: it keeps
// only a few blocks in memory, so 10 M profiles stream in constant space.
template <typename Sink>
bool ForEachBlock(const GenOptions& options, Sink&& sink) {
  const uint64_t blocks = (options.profiles + kBlockSize - 1) / kBlockSize;
  std::atomic<bool> failed{false};
  uint64_t next_block = 0;
  const tbb::filter<void, uint64_t> number_blocks(
      tbb::filter_mode::serial_in_order,
      [&](tbb::flow_control& control) -> uint64_t {
        if (next_block == blocks || failed.load()) {
          control.stop();
          return 0;
        }
        return next_block++;
      });
  const tbb::filter<uint64_t, std::string> generate_blocks(
      tbb::filter_mode::parallel, [&](uint64_t block) {
        const uint64_t begin = block * kBlockSize;
        return GenerateBlock(options, begin,
                             std::min(options.profiles, begin + kBlockSize));
      });
  const tbb::filter<std::string, void> write_blocks(
      tbb::filter_mode::serial_in_order, [&](const std::string& text) {
        if (!failed.load() && !sink(text)) failed.store(true);
      });
  const auto run = [&] {
    // Two blocks in flight per thread keep every thread busy while the
    // writer works through the oldest.
    const size_t tokens =
        2 * static_cast<size_t>(tbb::this_task_arena::max_concurrency());
    tbb::parallel_pipeline(tokens,
                           number_blocks & generate_blocks & write_blocks);
  };
  if (options.threads > 0) {
    // More threads than oneTBB has workers would only earn a warning on
    // stderr; the bytes are the same either way.
    const int threads = std::min(static_cast<int>(options.threads),
                                 tbb::info::default_concurrency());
    tbb::task_arena arena(threads);
    arena.execute(run);
  } else {
    run();
  }
  return !failed.load();
}

}  // namespace

bool GenerateProfiles(const GenOptions& options, std::FILE* out) {
  const bool written = ForEachBlock(options, [out](const std::string& text) {
    return std::fwrite(text.data(), 1, text.size(), out) == text.size();
  });
  return std::fflush(out) == 0 && written;
}

std::string GenerateProfilesToString(const GenOptions& options) {
  std::string all;
  ForEachBlock(options, [&all](const std::string& text) {
    all.append(text);
    return true;
  });
  return all;
}

}  // namespace segd
