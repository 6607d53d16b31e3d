// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC8004Identity} from "../interfaces/IERC8004.sol";

/// @title TestIdentityRegistry
/// @notice A small ERC-8004 v2.0.0 Identity Registry for tests and local demos: agents are ERC-721
///         tokens (ids from 0), tokenURI is the agent's registration file, key/value metadata.
contract TestIdentityRegistry is ERC721URIStorage, IERC8004Identity {
    uint256 private _nextId;
    mapping(uint256 => mapping(string => bytes)) private _metadata;

    error NotAgentOwnerOrOperator(uint256 agentId);

    constructor() ERC721("AgentIdentity", "AGENT") {}

    function register() external returns (uint256 agentId) {
        agentId = _register("");
    }

    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI);
    }

    function register(string calldata agentURI, MetadataEntry[] calldata metadata) external returns (uint256 agentId) {
        agentId = _register(agentURI);
        for (uint256 i = 0; i < metadata.length; i++) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
    }

    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _checkAuthorized(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        return _metadata[agentId][metadataKey];
    }

    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _checkAuthorized(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    function _register(string memory agentURI) internal returns (uint256 agentId) {
        agentId = _nextId++;
        _safeMint(msg.sender, agentId);
        _setTokenURI(agentId, agentURI);
        emit Registered(agentId, agentURI, msg.sender);
    }

    function _setMetadata(uint256 agentId, string memory key, bytes memory value) internal {
        _metadata[agentId][key] = value;
        emit MetadataSet(agentId, key, key, value);
    }

    function _checkAuthorized(uint256 agentId) internal view {
        address owner = ownerOf(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) revert NotAgentOwnerOrOperator(agentId);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721URIStorage, IERC165) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
