// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// Gas baseline for benchmarks/gas.py: OpenZeppelin ERC721 minting a batch with a `_mint` loop.
contract OZMintLoop is ERC721 {
    uint256 public nextTokenId;

    constructor(uint256 firstTokenId) ERC721("Baseline", "BASE") {
        nextTokenId = firstTokenId;
    }

    function mintBatch(address to, uint256 quantity) external {
        uint256 id = nextTokenId;
        for (uint256 i; i < quantity; ++i) _mint(to, id + i);
        nextTokenId = id + quantity;
    }
}
