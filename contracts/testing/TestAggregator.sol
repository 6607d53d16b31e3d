// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title TestAggregator
/// @notice A Chainlink-style feed for tests and the demo: its owner appends rounds (answer,
///         updatedAt); round ids count from 1 and answeredInRound = roundId, as a Chainlink
///         aggregator reports them within one phase.
contract TestAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint64 updatedAt;
    }

    address public immutable owner;
    uint8 public immutable override decimals;
    string public override description;
    uint256 public constant override version = 4;
    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    error NotOwner();
    error NoDataPresent();

    constructor(uint8 decimals_, string memory description_) {
        owner = msg.sender;
        decimals = decimals_;
        description = description_;
    }

    function push(int256 answer, uint64 updatedAt) external returns (uint80 roundId) {
        if (msg.sender != owner) revert NotOwner();
        roundId = ++latestRound;
        rounds[roundId] = Round(answer, updatedAt);
    }

    function getRoundData(uint80 roundId_)
        public
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = rounds[roundId_];
        if (r.updatedAt == 0) revert NoDataPresent();
        return (roundId_, r.answer, r.updatedAt, r.updatedAt, roundId_);
    }

    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }
}
