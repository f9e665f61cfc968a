// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// Holds the first token id so ERC721A's constructor can read it.
/// Listed before ERC721A in the inheritance list, so its constructor runs first:
/// ERC721A sets `_currentIndex = _startTokenId()` in its own constructor.
abstract contract FirstTokenId {
    uint256 internal immutable _firstTokenId;

    constructor(uint256 firstTokenId_) {
        _firstTokenId = firstTokenId_;
    }
}

/// @title One roboz-collection NFT collection.
/// @notice ERC721A (cheap batch mints, or the whole supply minted in the constructor with
/// ERC-2309 ConsecutiveTransfer events) with ERC-2981 royalties, ERC-4906 metadata
/// update events, ERC-7572 contractURI and a provenance hash that can be set once.
/// One audited source serves every collection: name, symbol, supply, first id and
/// royalties come from the plan as constructor arguments, so the committed artifact
/// deploys any collection without a compiler.
/// Sale mode (a drop): up to four phases (public or Merkle allowlist), exact payment,
/// per-wallet counts per phase, proceeds to one payout address, pause, and a fair reveal
/// (placeholder until an offset is drawn from a committed future block's hash).
contract RobozCollection is FirstTokenId, ERC721A, ERC2981, Ownable, Pausable, ReentrancyGuardTransient {
    /// Number of tokens the collection will ever have; fixed at deploy.
    uint256 public immutable maxSupply;

    string private _baseTokenURI;
    string private _contractURI;

    /// sha256 over the images in token order (provenance.json); zero until set, then frozen.
    bytes32 public provenanceHash;

    // ---------------------------------------------------------------- sale state

    /// ABI view of one phase (setSale's input, phaseAt's output).
    /// start: unix seconds; price: wei per token; perWallet: limit per wallet in a public phase;
    /// supply: cap of this phase (0 = none of its own); merkleRoot: 0 = public phase, else the root
    /// of an OpenZeppelin StandardMerkleTree of (address, uint256 allowance) leaves.
    struct Phase {
        uint64 start;
        uint96 price;
        uint32 perWallet;
        uint32 supply;
        bytes32 merkleRoot;
    }

    /// What a mint reads and writes of its phase, packed in one slot (200 bits) so a mint
    /// pays one cold SLOAD and one warm SSTORE for it; the root sits apart and is only read
    /// in allowlist phases.
    struct PhaseSlot {
        uint96 price;
        uint32 perWallet;
        uint32 supply;
        uint32 minted;
        bool allowlist;
    }

    uint256 public constant MAX_PHASES = 4;
    /// Blocks between commitReveal and the block whose hash draws the offset.
    uint256 public constant REVEAL_DELAY = 5;
    /// blockhash() only answers for the last 256 blocks.
    uint256 private constant BLOCKHASH_WINDOW = 256;
    /// Per-wallet counts live in ERC721A's 64 aux bits: 16 bits per phase, 4 phases.
    uint256 private constant COUNT_BITS = 16;
    uint256 private constant COUNT_MASK = 0xFFFF;

    /// Every phase's start (uint40 each, bits 0..159) and the phase count (bits 160..167) in one
    /// word: finding the current phase costs a single SLOAD.
    uint256 private _saleWord;
    PhaseSlot[MAX_PHASES] private _phases;
    bytes32[MAX_PHASES] private _roots;

    address private _payout;
    bool private _fairReveal;
    bool private _revealed;
    uint64 private _revealBlock;
    uint256 private _revealOffset;
    uint256 private _totalWithdrawn;
    string private _placeholderURI;

    // ERC-4906
    event MetadataUpdate(uint256 _tokenId);
    event BatchMetadataUpdate(uint256 _fromTokenId, uint256 _toTokenId);
    // ERC-7572
    event ContractURIUpdated();

    event ProvenanceSet(bytes32 provenanceHash);
    event SaleConfigured(uint256 phaseCount, address payout, bool fairReveal);
    event Withdrawn(address to, uint256 amount);
    event RevealCommitted(uint256 blockNumber);
    event Revealed(uint256 offset);

    error ExceedsMaxSupply(uint256 requested, uint256 remaining);
    error UnexpectedFirstId(uint256 expected, uint256 actual);
    error ProvenanceAlreadySet(bytes32 current);
    error ZeroProvenance();
    error WrongPayment(uint256 expected, uint256 sent);
    error WalletLimitExceeded(uint256 limit, uint256 alreadyMinted, uint256 requested);
    error BadMintChunk(uint256 chunk, uint256 limit);
    error SaleAlreadyStarted();
    error ProvenanceNotSet();
    error ZeroPayout();
    error TooManyPhases();
    error PhasesOutOfOrder();
    error NoSuchPhase(uint256 index);
    error SaleNotOpen();
    error NotOnAllowlist();
    error PhaseSoldOut(uint256 index, uint256 remaining);
    error PayoutRejected();
    error NoFairReveal();
    error RevealNotCommitted();
    error RevealAlreadyCommitted(uint256 blockNumber);
    error RevealTooEarly(uint256 blockNumber);
    error RevealWindowMissed(uint256 blockNumber);
    error AlreadyRevealed();

    /// ERC721A's `_MAX_MINT_ERC2309_QUANTITY_LIMIT` (private there).
    uint256 public constant MINT_AT_DEPLOY_CHUNK_LIMIT = 5000;

    constructor(
        string memory name_,
        string memory symbol_,
        uint256 maxSupply_,
        uint256 firstTokenId_,
        string memory baseURI_,
        string memory contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        address owner_,
        address mintAllTo,
        uint256 mintChunk
    ) FirstTokenId(firstTokenId_) ERC721A(name_, symbol_) Ownable(owner_) {
        maxSupply = maxSupply_;
        _baseTokenURI = baseURI_;
        _contractURI = contractURI_;
        if (royaltyBps > 0) _setDefaultRoyalty(royaltyReceiver, royaltyBps);
        if (mintAllTo != address(0)) _mintAllAtDeploy(mintAllTo, maxSupply_, mintChunk);
    }

    // ---------------------------------------------------------------- minting

    /// Mint-at-deploy: the whole supply to `to`, one ERC-2309 ConsecutiveTransfer per chunk of
    /// at most `chunk` ids (ERC721A allows 5,000 per call), so the gas no longer grows per token.
    /// The first transfer of a token scans back to its chunk's first id: smaller chunks cost a
    /// little more here and bound that scan.
    function _mintAllAtDeploy(address to, uint256 quantity, uint256 chunk) private {
        if (chunk == 0 || chunk > MINT_AT_DEPLOY_CHUNK_LIMIT) revert BadMintChunk(chunk, MINT_AT_DEPLOY_CHUNK_LIMIT);
        while (quantity > 0) {
            uint256 n = quantity < chunk ? quantity : chunk;
            _mintERC2309(to, n);
            quantity -= n;
        }
    }

    /// Owner batch mint. `firstId` must equal the next id to be minted, so a mint
    /// transaction sent twice (a retry after a crash) reverts instead of minting
    /// a second batch.
    function mintBatch(address to, uint256 quantity, uint256 firstId) external onlyOwner {
        uint256 next = _nextTokenId();
        if (firstId != next) revert UnexpectedFirstId(firstId, next);
        _mintChecked(to, quantity);
    }

    /// Collector mint in the current phase. `allowance` and `proof` are ignored in a public phase;
    /// in an allowlist phase the leaf (msg.sender, allowance) must be in the phase's tree and the
    /// allowance is the wallet's limit there. Checks, then effects, then the mint (plain `_mint`:
    /// no receiver callback, so nothing outside runs inside this call).
    function mint(uint256 quantity, uint256 allowance, bytes32[] calldata proof)
        external
        payable
        nonReentrant
        whenNotPaused
    {
        (bool open, uint256 index) = _current(_saleWord);
        if (!open) revert SaleNotOpen();
        PhaseSlot memory p = _phases[index];
        uint256 limit = p.perWallet;
        if (p.allowlist) {
            // StandardMerkleTree leaf: double hash, so a leaf can never pass as an inner node.
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, allowance))));
            if (!MerkleProof.verifyCalldata(proof, _roots[index], leaf)) revert NotOnAllowlist();
            limit = allowance;
        }
        // A phase's count has 16 bits: no wallet can be allowed more than that in one phase.
        if (limit > COUNT_MASK) limit = COUNT_MASK;
        uint64 aux = _getAux(msg.sender);
        uint256 shift = index * COUNT_BITS;
        uint256 already = (uint256(aux) >> shift) & COUNT_MASK;
        // `already > limit`: a wallet listed twice with different allowances, showing the smaller one.
        if (already > limit || quantity > limit - already) revert WalletLimitExceeded(limit, already, quantity);
        if (p.supply != 0 && quantity > uint256(p.supply) - p.minted) {
            revert PhaseSoldOut(index, uint256(p.supply) - p.minted);
        }
        uint256 remaining = maxSupply - _totalMinted();
        if (quantity > remaining) revert ExceedsMaxSupply(quantity, remaining);
        uint256 cost = uint256(p.price) * quantity;
        if (msg.value != cost) revert WrongPayment(cost, msg.value);

        // Written before _mint so ERC721A's own write to the same slot is the cheap warm one.
        _setAux(msg.sender, uint64((uint256(aux) & ~(COUNT_MASK << shift)) | ((already + quantity) << shift)));
        _phases[index].minted = uint32(p.minted + quantity);
        _mint(msg.sender, quantity);
    }

    function _mintChecked(address to, uint256 quantity) private {
        uint256 remaining = maxSupply - _totalMinted();
        if (quantity > remaining) revert ExceedsMaxSupply(quantity, remaining);
        _mint(to, quantity);
    }

    // ---------------------------------------------------------------- sale setup

    /// Sets (or replaces, until the first phase opens) the phases, the payout address, the reveal
    /// mode and the placeholder URI. The provenance hash must already be on chain, so the pictures
    /// are fixed before anyone can buy.
    function setSale(Phase[] calldata phases, address payout_, bool fairReveal_, string calldata placeholderURI_)
        external
        onlyOwner
    {
        if (_saleStarted(_saleWord)) revert SaleAlreadyStarted();
        if (provenanceHash == bytes32(0)) revert ProvenanceNotSet();
        if (payout_ == address(0)) revert ZeroPayout();
        if (phases.length > MAX_PHASES) revert TooManyPhases();
        uint256 word = phases.length << (MAX_PHASES * 40);
        for (uint256 i; i < MAX_PHASES; ++i) {
            if (i >= phases.length) {
                delete _phases[i];
                delete _roots[i];
                continue;
            }
            Phase calldata ph = phases[i];
            if (i > 0 && ph.start <= phases[i - 1].start) revert PhasesOutOfOrder();
            word |= uint256(SafeCast.toUint40(ph.start)) << (i * 40);
            _phases[i] = PhaseSlot({
                price: ph.price,
                perWallet: ph.perWallet,
                supply: ph.supply,
                minted: 0,
                allowlist: ph.merkleRoot != bytes32(0)
            });
            _roots[i] = ph.merkleRoot;
        }
        _saleWord = word;
        _payout = payout_;
        _fairReveal = fairReveal_;
        _placeholderURI = placeholderURI_;
        emit SaleConfigured(phases.length, payout_, fairReveal_);
        // The URIs of tokens already minted (the reserve) may switch to or from the placeholder.
        emit BatchMetadataUpdate(_startTokenId(), _startTokenId() + maxSupply - 1);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function phaseCount() public view returns (uint256) {
        return (_saleWord >> (MAX_PHASES * 40)) & 0xFF;
    }

    function phaseAt(uint256 index) external view returns (Phase memory phase, uint256 minted) {
        uint256 word = _saleWord;
        if (index >= phaseCount()) revert NoSuchPhase(index);
        PhaseSlot memory p = _phases[index];
        phase = Phase({
            start: uint64(_startOf(word, index)),
            price: p.price,
            perWallet: p.perWallet,
            supply: p.supply,
            merkleRoot: _roots[index]
        });
        minted = p.minted;
    }

    /// open is false before the first phase starts (and when no sale is set); afterwards the
    /// latest phase whose start has passed runs, the last one until the supply is gone.
    function currentPhase() external view returns (bool open, uint256 index) {
        return _current(_saleWord);
    }

    function mintedInPhase(address wallet, uint256 index) external view returns (uint256) {
        if (index >= MAX_PHASES) revert NoSuchPhase(index);
        return (uint256(_getAux(wallet)) >> (index * COUNT_BITS)) & COUNT_MASK;
    }

    function payout() external view returns (address) {
        return _payout;
    }

    function fairReveal() external view returns (bool) {
        return _fairReveal;
    }

    function placeholderURI() external view returns (string memory) {
        return _placeholderURI;
    }

    function _startOf(uint256 word, uint256 index) private pure returns (uint256) {
        return (word >> (index * 40)) & type(uint40).max;
    }

    function _current(uint256 word) private view returns (bool, uint256) {
        uint256 n = (word >> (MAX_PHASES * 40)) & 0xFF;
        for (uint256 i = n; i > 0; --i) {
            if (block.timestamp >= _startOf(word, i - 1)) return (true, i - 1);
        }
        return (false, 0);
    }

    function _saleStarted(uint256 word) private view returns (bool) {
        return (word >> (MAX_PHASES * 40)) & 0xFF != 0 && block.timestamp >= _startOf(word, 0);
    }

    // ---------------------------------------------------------------- fair reveal

    /// Commits to a block REVEAL_DELAY blocks ahead; its hash, unknown today to the artist and to
    /// the buyers, will draw the offset. Again allowed only when that block's 256-block window passed.
    function commitReveal() external onlyOwner {
        if (!_fairReveal) revert NoFairReveal();
        if (_revealed) revert AlreadyRevealed();
        if (!_saleStarted(_saleWord)) revert SaleNotOpen();
        uint256 committed = _revealBlock;
        if (committed != 0 && block.number <= committed + BLOCKHASH_WINDOW) revert RevealAlreadyCommitted(committed);
        uint256 target = block.number + REVEAL_DELAY;
        _revealBlock = uint64(target);
        emit RevealCommitted(target);
    }

    /// Anyone may reveal once the committed block is mined and still inside blockhash's window.
    function reveal() external {
        if (_revealed) revert AlreadyRevealed();
        uint256 target = _revealBlock;
        if (target == 0) revert RevealNotCommitted();
        if (block.number <= target) revert RevealTooEarly(target);
        if (block.number > target + BLOCKHASH_WINDOW) revert RevealWindowMissed(target);
        uint256 offset = uint256(blockhash(target)) % maxSupply;
        _revealOffset = offset;
        _revealed = true;
        emit Revealed(offset);
        emit BatchMetadataUpdate(_startTokenId(), _startTokenId() + maxSupply - 1);
    }

    function revealBlock() external view returns (uint256) {
        return _revealBlock;
    }

    function revealed() external view returns (bool) {
        return _revealed;
    }

    function revealOffset() external view returns (uint256) {
        return _revealOffset;
    }

    function totalMinted() external view returns (uint256) {
        return _totalMinted();
    }

    function nextTokenId() external view returns (uint256) {
        return _nextTokenId();
    }

    function startTokenId() external view returns (uint256) {
        return _startTokenId();
    }

    // ---------------------------------------------------------------- metadata

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        if (!_exists(tokenId)) revert URIQueryForNonexistentToken();
        if (_fairReveal && !_revealed) return _placeholderURI;
        // Metadata files are named "{id}.json" inside the metadata folder; after a fair reveal
        // token t shows file (t - start + offset) mod N + start (offset 0 without one).
        uint256 start = _startTokenId();
        uint256 shown = (tokenId - start + _revealOffset) % maxSupply + start;
        return string.concat(_baseTokenURI, _toString(shown), ".json");
    }

    function baseURI() external view returns (string memory) {
        return _baseTokenURI;
    }

    function setBaseURI(string calldata newBaseURI) external onlyOwner {
        _baseTokenURI = newBaseURI;
        // ERC-4906: marketplaces refresh every token's metadata.
        if (_totalMinted() > 0) emit BatchMetadataUpdate(_startTokenId(), _nextTokenId() - 1);
        else emit BatchMetadataUpdate(_startTokenId(), _startTokenId() + maxSupply - 1);
    }

    /// ERC-7572 contract-level metadata.
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    function setContractURI(string calldata newContractURI) external onlyOwner {
        _contractURI = newContractURI;
        emit ContractURIUpdated();
    }

    function setProvenanceHash(bytes32 hash) external onlyOwner {
        if (provenanceHash != bytes32(0)) revert ProvenanceAlreadySet(provenanceHash);
        if (hash == bytes32(0)) revert ZeroProvenance();
        provenanceHash = hash;
        emit ProvenanceSet(hash);
    }

    function setDefaultRoyalty(address receiver, uint96 bps) external onlyOwner {
        _setDefaultRoyalty(receiver, bps);
    }

    // ---------------------------------------------------------------- funds

    /// Anyone may call: the whole balance can only go to the payout address.
    function withdraw() external nonReentrant {
        address to = _payout;
        if (to == address(0)) revert ZeroPayout();
        uint256 amount = address(this).balance;
        _totalWithdrawn += amount;
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert PayoutRejected();
        emit Withdrawn(to, amount);
    }

    function totalWithdrawn() external view returns (uint256) {
        return _totalWithdrawn;
    }

    // ---------------------------------------------------------------- plumbing

    function _startTokenId() internal view override returns (uint256) {
        return _firstTokenId;
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721A, ERC2981) returns (bool) {
        return
            interfaceId == 0x49064906 || // ERC-4906
            ERC721A.supportsInterface(interfaceId) || // ERC-165, ERC-721, ERC-721 Metadata
            ERC2981.supportsInterface(interfaceId); // ERC-2981
    }
}
