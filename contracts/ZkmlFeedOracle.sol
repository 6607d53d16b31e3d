// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {ZkmlOracle} from "./ZkmlOracle.sol";

/// @title ZkmlFeedOracle
/// @notice ZkmlOracle that reads the model's inputs itself from on-chain Chainlink-style feeds
///         (AggregatorV3Interface), so nothing the caller says goes into the model. Input i is
///         source i: a feed and how many rounds back to read (0 = its latest round, k = the round
///         k before it within the feed's current phase), quantized to the model's input scale
///         2^inputScale: q = round(answer * 2^inputScale / 10^feedDecimals), halves away from zero
///         (as `zkml` quantizes inputs). The round's data timestamp is the newest `updatedAt`
///         among the rounds read, and every feed's latest round must be within maxAge.
/// @dev A caller names the data timestamp it proved for; if the feeds moved since, `update`
///      says so (FeedsMoved) instead of failing the proof.
contract ZkmlFeedOracle is ZkmlOracle {
    struct Source {
        AggregatorV3Interface feed;
        uint80 roundsBack;
    }

    Source[] internal sources;
    uint8[] internal feedDecimals;
    /// @notice The model's input scale: a feature x is the integer round(x * 2^inputScale).
    int8 public immutable inputScale;

    error SourceCount(uint256 got, uint256 expected);
    error NoRound(uint256 source, uint80 roundId);
    error StaleFeed(uint256 source, uint256 updatedAt, uint256 now_);
    error FeedsMoved(uint64 proved, uint64 current);
    error InputOutOfRange(uint256 source, int256 answer);
    error FeedDecimals(uint256 source, uint8 decimals);
    error InputScale(int8 scale);

    constructor(Config memory c, Source[] memory sources_, int8 inputScale_) ZkmlOracle(c) {
        if (sources_.length != c.io.numInputs) revert SourceCount(sources_.length, c.io.numInputs);
        for (uint256 i = 0; i < sources_.length; i++) {
            sources.push(sources_[i]);
            uint8 d = sources_[i].feed.decimals();
            if (d > 38) revert FeedDecimals(i, d);
            feedDecimals.push(d);
        }
        if (inputScale_ == type(int8).min) revert InputScale(inputScale_);
        inputScale = inputScale_;
    }

    /// @notice Adds a round from a proof on the inputs the feeds give now.
    /// @param dataTimestamp The data timestamp the proof was made for (see `currentInputs`).
    function update(bytes calldata proof, uint64 dataTimestamp, int256 answer)
        external
        nonReentrant
        onlyUpdater
        returns (uint80)
    {
        (int256[] memory features, uint64 current) = currentInputs();
        if (current != dataTimestamp) revert FeedsMoved(dataTimestamp, current);
        return _prove(proof, features, dataTimestamp, answer);
    }

    /// @notice The model inputs the feeds give now and their data timestamp: what a prover proves.
    function currentInputs() public view returns (int256[] memory features, uint64 dataTimestamp) {
        features = new int256[](sources.length);
        for (uint256 i = 0; i < sources.length; i++) {
            Source memory s = sources[i];
            (uint80 latestId, int256 answer,, uint256 updatedAt,) = s.feed.latestRoundData();
            if (updatedAt == 0) revert NoRound(i, latestId);
            if (updatedAt > block.timestamp || block.timestamp - updatedAt > maxAge) {
                revert StaleFeed(i, updatedAt, block.timestamp);
            }
            if (updatedAt > dataTimestamp) dataTimestamp = uint64(updatedAt);
            if (s.roundsBack != 0) {
                if (latestId <= s.roundsBack) revert NoRound(i, 0);
                uint80 id = latestId - s.roundsBack;
                uint256 at;
                (, answer,, at,) = s.feed.getRoundData(id);
                if (at == 0) revert NoRound(i, id);
            }
            features[i] = quantize(i, answer);
        }
    }

    /// @notice Source i's answer as a model input: round(answer * 2^inputScale / 10^decimals).
    function quantize(uint256 i, int256 answer) public view returns (int256) {
        // Feeds answer in at most ~2^128; beyond that the product could overflow.
        if (answer > type(int128).max || answer < type(int128).min) revert InputOutOfRange(i, answer);
        int256 num = answer;
        int256 den = int256(10) ** feedDecimals[i];
        if (inputScale >= 0) num *= int256(1 << uint8(inputScale));
        else den *= int256(1 << uint8(-inputScale));
        int256 q = (num < 0 ? -num : num) * 2 + den;
        q /= 2 * den;
        return num < 0 ? -q : q;
    }

    function sourceOf(uint256 i)
        external
        view
        returns (AggregatorV3Interface feed, uint80 roundsBack, uint8 feedDecimals_)
    {
        Source memory s = sources[i];
        return (s.feed, s.roundsBack, feedDecimals[i]);
    }
}
