// TACRED micro P/R/F1 against hand-computed cases, including the scorer's edge cases.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/config.hpp"
#include "train/metrics.hpp"

using namespace anchorsweep;

constexpr int64_t N = 0;  // the negative label

TEST(Metrics, HandComputedMixedCase) {
  // gold:  A A B N N B      pred: A B B A N N
  // correct positives: #0 (A), #2 (B) -> 2; guessed positives: 0,1,2,3 -> 4; gold positives: 0,1,2,5 -> 4
  std::vector<int64_t> gold{1, 1, 2, N, N, 2}, pred{1, 2, 2, 1, N, N};
  auto s = score(gold, pred, N, 3);
  EXPECT_DOUBLE_EQ(s.micro_p, 0.5);
  EXPECT_DOUBLE_EQ(s.micro_r, 0.5);
  EXPECT_DOUBLE_EQ(s.micro_f1, 0.5);
  EXPECT_DOUBLE_EQ(s.accuracy, 3.0 / 6);
  // class A: tp 1, fp 1 (#3), fn 1 (#1) -> 2/4; class B: tp 1, fp 1 (#1), fn 1 (#5) -> 0.5
  EXPECT_DOUBLE_EQ(s.macro_f1, 0.5);
}

TEST(Metrics, WrongPositiveLabelCountsAgainstPrecisionAndRecall) {
  std::vector<int64_t> gold{1, 2}, pred{2, 2};
  auto s = score(gold, pred, N, 3);
  EXPECT_DOUBLE_EQ(s.micro_p, 0.5);  // 1 of 2 guesses right
  EXPECT_DOUBLE_EQ(s.micro_r, 0.5);  // 1 of 2 gold found
}

TEST(Metrics, NothingPredictedPositiveGivesPrecisionOne) {
  std::vector<int64_t> gold{1, 2, N}, pred{N, N, N};
  auto s = score(gold, pred, N, 3);
  EXPECT_DOUBLE_EQ(s.micro_p, 1.0);
  EXPECT_DOUBLE_EQ(s.micro_r, 0.0);
  EXPECT_DOUBLE_EQ(s.micro_f1, 0.0);
}

TEST(Metrics, ZeroPrecisionAndRecallGivesZeroF1) {
  std::vector<int64_t> gold{1, N}, pred{2, 2};
  auto s = score(gold, pred, N, 3);
  EXPECT_DOUBLE_EQ(s.micro_p, 0.0);
  EXPECT_DOUBLE_EQ(s.micro_r, 0.0);
  EXPECT_DOUBLE_EQ(s.micro_f1, 0.0);
}

TEST(Metrics, NegativeLabelCanHaveAnyIndex) {
  std::vector<int64_t> gold{0, 1, 2}, pred{0, 1, 1};
  auto s = score(gold, pred, /*negative=*/1, 3);  // label 1 is negative here
  // positives guessed: #0 (0, right) -> P = 1; gold positives #0, #2 -> R = 1/2
  EXPECT_DOUBLE_EQ(s.micro_p, 1.0);
  EXPECT_DOUBLE_EQ(s.micro_r, 0.5);
  EXPECT_NEAR(s.micro_f1, 2.0 / 3, 1e-12);
}

TEST(Metrics, PerClassF1) {
  std::vector<int64_t> gold{1, 1, 2, N}, pred{1, 2, 2, N};
  auto f = per_class_f1(gold, pred, 3);
  EXPECT_DOUBLE_EQ(f[1], 2.0 / 3);  // tp 1, fn 1
  EXPECT_DOUBLE_EQ(f[2], 2.0 / 3);  // tp 1, fp 1
  EXPECT_DOUBLE_EQ(f[0], 1.0);
}

static std::string write_lines(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Metrics, ScoreFilesLikeTheOfficialScorer) {
  auto gold = write_lines("gold.txt", "per:title\nno_relation\norg:founded\nper:title\n");
  auto pred = write_lines("pred.txt", "per:title\norg:founded\norg:founded\nno_relation\n");
  auto s = score_files(gold, pred, "no_relation");
  EXPECT_NEAR(s.micro_p, 2.0 / 3, 1e-12);
  EXPECT_NEAR(s.micro_r, 2.0 / 3, 1e-12);
}

TEST(Metrics, ScoreFilesRejectsLengthMismatch) {
  auto gold = write_lines("gold2.txt", "a\nb\n");
  auto pred = write_lines("pred2.txt", "a\n");
  try {
    score_files(gold, pred, "no_relation");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("pred2.txt"), std::string::npos) << e.what();
  }
}
