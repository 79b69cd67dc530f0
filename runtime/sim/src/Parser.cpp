//===- Parser.cpp - PTX text -> the simulator's decoded module ------------===//
//
// A hand-written lexer and recursive-descent parser for the subset of PTX that
// MLIR 22's NVPTX back end and nvcc 13 emit for our kernels. Anything it does
// not know (a directive, an opcode, a modifier) is an error naming it and its
// line: the simulator never guesses what an instruction means.
//
//===----------------------------------------------------------------------===//
#include "Ptx.h"

#include <cctype>
#include <cstring>
#include <set>
#include <sstream>
#include <unordered_map>

using namespace tessera::sim;

unsigned tessera::sim::sizeOf(Ty t) {
  switch (t) {
  case Ty::None:
    return 0;
  case Ty::Pred:
  case Ty::B8:
  case Ty::U8:
  case Ty::S8:
    return 1;
  case Ty::B16:
  case Ty::U16:
  case Ty::S16:
  case Ty::F16:
  case Ty::BF16:
    return 2;
  case Ty::B32:
  case Ty::U32:
  case Ty::S32:
  case Ty::F32:
  case Ty::F16x2:
  case Ty::BF16x2:
    return 4;
  case Ty::B64:
  case Ty::U64:
  case Ty::S64:
  case Ty::F64:
    return 8;
  }
  return 0;
}

bool tessera::sim::isSigned(Ty t) {
  return t == Ty::S8 || t == Ty::S16 || t == Ty::S32 || t == Ty::S64;
}

bool tessera::sim::isFloat(Ty t) {
  return t == Ty::F16 || t == Ty::F16x2 || t == Ty::BF16 || t == Ty::BF16x2 ||
         t == Ty::F32 || t == Ty::F64;
}

const char *tessera::sim::name(Ty t) {
  static const char *names[] = {"none",  "pred", "b8",     "b16", "b32",
                                "b64",   "u8",   "u16",    "u32", "u64",
                                "s8",    "s16",  "s32",    "s64", "f16",
                                "f16x2", "bf16", "bf16x2", "f32", "f64"};
  return names[static_cast<int>(t)];
}

const Function *Module::find(const std::string &fname) const {
  for (const auto &f : functions)
    if (f->name == fname)
      return f.get();
  return nullptr;
}

namespace {

struct Token {
  enum Kind { Ident, Number, Punct, String, End } kind;
  std::string text;
  uint32_t line;
};

/// Splits PTX into tokens. Identifiers include dots (so `ld.global.b32`,
/// `%tid.x` and `.reg` are one token each), `%` and `$`.
bool lex(const std::string &s, std::vector<Token> &out, std::string &error) {
  uint32_t line = 1;
  size_t i = 0, n = s.size();
  auto isIdent = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '.' || c == '$' || c == '%';
  };
  while (i < n) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      while (i < n && s[i] != '\n')
        ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      i += 2;
      while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) {
        if (s[i] == '\n')
          ++line;
        ++i;
      }
      i += 2;
      continue;
    }
    if (c == '"') {
      size_t j = i + 1;
      while (j < n && s[j] != '"')
        ++j;
      out.push_back({Token::String, s.substr(i + 1, j - i - 1), line});
      i = j + 1;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      // 0f/0d hex floats, 0x hex, decimals with '.', exponents; a trailing U.
      while (j < n &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.'))
        ++j;
      out.push_back({Token::Number, s.substr(i, j - i), line});
      i = j;
      continue;
    }
    if (isIdent(c)) {
      size_t j = i;
      // `shared::cta`, `.shared::cluster`: the scope is part of the name.
      while (j < n && (isIdent(s[j]) || (s[j] == ':' && j + 2 < n &&
                                         s[j + 1] == ':' && isIdent(s[j + 2]))))
        j += s[j] == ':' ? 2 : 1;
      out.push_back({Token::Ident, s.substr(i, j - i), line});
      i = j;
      continue;
    }
    if (std::strchr("{}()[],;:+-!@<>=|", c)) {
      out.push_back({Token::Punct, std::string(1, c), line});
      ++i;
      continue;
    }
    error = "line " + std::to_string(line) + ": unexpected character '" +
            std::string(1, c) + "'";
    return false;
  }
  out.push_back({Token::End, "", line});
  return true;
}

bool parseType(const std::string &m, Ty &t) {
  static const std::unordered_map<std::string, Ty> types = {
      {"pred", Ty::Pred}, {"b8", Ty::B8},         {"b16", Ty::B16},
      {"b32", Ty::B32},   {"b64", Ty::B64},       {"u8", Ty::U8},
      {"u16", Ty::U16},   {"u32", Ty::U32},       {"u64", Ty::U64},
      {"s8", Ty::S8},     {"s16", Ty::S16},       {"s32", Ty::S32},
      {"s64", Ty::S64},   {"f16", Ty::F16},       {"f16x2", Ty::F16x2},
      {"bf16", Ty::BF16}, {"bf16x2", Ty::BF16x2}, {"f32", Ty::F32},
      {"f64", Ty::F64}};
  auto it = types.find(m);
  if (it == types.end())
    return false;
  t = it->second;
  return true;
}

bool parseSpace(const std::string &m, Space &s) {
  if (m == "global")
    s = Space::Global;
  else if (m == "shared" || m == "shared::cta")
    s = Space::Shared;
  else if (m == "local")
    s = Space::Local;
  else if (m == "param")
    s = Space::Param;
  else if (m == "const")
    s = Space::Const;
  else
    return false;
  return true;
}

bool parseSpecial(const std::string &r, Special &s) {
  static const std::unordered_map<std::string, Special> specials = {
      {"%tid.x", Special::TidX},
      {"%tid.y", Special::TidY},
      {"%tid.z", Special::TidZ},
      {"%ntid.x", Special::NtidX},
      {"%ntid.y", Special::NtidY},
      {"%ntid.z", Special::NtidZ},
      {"%ctaid.x", Special::CtaidX},
      {"%ctaid.y", Special::CtaidY},
      {"%ctaid.z", Special::CtaidZ},
      {"%nctaid.x", Special::NctaidX},
      {"%nctaid.y", Special::NctaidY},
      {"%nctaid.z", Special::NctaidZ},
      {"%laneid", Special::Laneid},
      {"%warpid", Special::Warpid},
      {"%nwarpid", Special::Nwarpid},
      {"%smid", Special::Smid},
      {"%nsmid", Special::Nsmid},
      {"%lanemask_eq", Special::LanemaskEq},
      {"%lanemask_lt", Special::LanemaskLt},
      {"%lanemask_le", Special::LanemaskLe},
      {"%lanemask_gt", Special::LanemaskGt},
      {"%lanemask_ge", Special::LanemaskGe},
      {"%clock", Special::Clock},
      {"%clock64", Special::Clock64},
      {"%globaltimer", Special::Globaltimer},
      {"%dynamic_smem_size", Special::DynamicSmemSize},
      {"%total_smem_size", Special::TotalSmemSize}};
  auto it = specials.find(r);
  if (it == specials.end())
    return false;
  s = it->second;
  return true;
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

/// Parses an integer or float literal into raw bits of `t` (floats of f32 or
/// f64 width: PTX writes 0fXXXXXXXX / 0dXXXXXXXXXXXXXXXX or decimals).
bool parseNumber(const std::string &text, bool negative, Ty t, uint64_t &bits) {
  std::string s = text;
  if (!s.empty() && (s.back() == 'U' || s.back() == 'u'))
    s.pop_back();
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'f' || s[1] == 'F')) {
    uint32_t v = static_cast<uint32_t>(std::stoul(s.substr(2), nullptr, 16));
    if (negative)
      v ^= 0x80000000u;
    if (t == Ty::F64) {
      float f;
      std::memcpy(&f, &v, 4);
      double d = f;
      std::memcpy(&bits, &d, 8);
    } else {
      bits = v;
    }
    return true;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'd' || s[1] == 'D')) {
    uint64_t v = std::stoull(s.substr(2), nullptr, 16);
    if (negative)
      v ^= 0x8000000000000000ull;
    if (t == Ty::F32) {
      double d;
      std::memcpy(&d, &v, 8);
      float f = static_cast<float>(d);
      uint32_t w;
      std::memcpy(&w, &f, 4);
      bits = w;
    } else {
      bits = v;
    }
    return true;
  }
  bool isDecimalFloat =
      s.find('.') != std::string::npos ||
      ((s.find('e') != std::string::npos || s.find('E') != std::string::npos) &&
       s.find('x') == std::string::npos && s.find('X') == std::string::npos);
  if (isDecimalFloat || (isFloat(t) && s.find('x') == std::string::npos)) {
    double d = std::stod(s);
    if (negative)
      d = -d;
    if (t == Ty::F64) {
      std::memcpy(&bits, &d, 8);
    } else if (isFloat(t)) {
      float f = static_cast<float>(d);
      uint32_t w;
      std::memcpy(&w, &f, 4);
      bits = w;
    } else {
      bits = static_cast<uint64_t>(static_cast<int64_t>(d));
    }
    return true;
  }
  uint64_t v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    v = std::stoull(s.substr(2), nullptr, 16);
  else if (s.size() > 1 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
    v = std::stoull(s.substr(2), nullptr, 2);
  else if (s.size() > 1 && s[0] == '0')
    v = std::stoull(s, nullptr, 8);
  else
    v = std::stoull(s, nullptr, 10);
  bits = negative ? ~v + 1 : v;
  return true;
}

class Parser {
public:
  Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  std::unique_ptr<Module> run(std::string &error) {
    module_ = std::make_unique<Module>();
    if (!parseModule()) {
      error = error_;
      return nullptr;
    }
    return std::move(module_);
  }

private:
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::string error_;
  std::unique_ptr<Module> module_;
  uint64_t nextGlobal_ = 0; // module variables' offsets in their block

  // Per-function state.
  Function *fn_ = nullptr;
  std::vector<std::unordered_map<std::string, int32_t>> scopes_;
  std::unordered_map<std::string, uint64_t> localVars_;
  /// Labels are scoped like registers: one declared inside a `{ }` block (an
  /// inline-asm block, say) is visible only there, so two blocks may both
  /// define `DONE`. A label is stored as "name@scope" (scope 0: the body).
  struct LabelUse {
    size_t inst;
    std::string name;
    std::vector<unsigned> scopes; ///< the enclosing scopes, outermost first
  };
  std::vector<LabelUse> pendingLabels_;
  std::vector<unsigned> labelScopes_;
  unsigned nextLabelScope_ = 0;
  static std::string labelKey(const std::string &name, unsigned scope) {
    return name + "@" + std::to_string(scope);
  }

  const Token &peek(size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }
  const Token &next() {
    const Token &t = peek();
    if (pos_ < toks_.size() - 1)
      ++pos_;
    return t;
  }
  bool is(const char *text) const { return peek().text == text; }
  bool accept(const char *text) {
    if (!is(text))
      return false;
    next();
    return true;
  }
  bool fail(const std::string &message) {
    if (error_.empty())
      error_ = "line " + std::to_string(peek().line) + ": " + message;
    return false;
  }
  bool failAt(uint32_t line, const std::string &message) {
    if (error_.empty())
      error_ = "line " + std::to_string(line) + ": " + message;
    return false;
  }
  bool expect(const char *text) {
    if (accept(text))
      return true;
    return fail(std::string("expected '") + text + "', found '" + peek().text +
                "'");
  }
  bool integer(uint64_t &v) {
    bool neg = accept("-");
    if (peek().kind != Token::Number)
      return fail("expected a number, found '" + peek().text + "'");
    uint64_t bits = 0;
    parseNumber(next().text, neg, Ty::U64, bits);
    v = bits;
    return true;
  }

  bool parseModule() {
    while (peek().kind != Token::End) {
      const std::string &t = peek().text;
      if (t == ".version") {
        next();
        module_->version = next().text;
      } else if (t == ".target") {
        next();
        module_->target = next().text;
        while (accept(","))
          next();
      } else if (t == ".address_size") {
        next();
        uint64_t v = 0;
        if (!integer(v))
          return false;
        module_->addressSize = static_cast<unsigned>(v);
        if (v != 64)
          return fail(".address_size " + std::to_string(v) +
                      " is not supported (only 64)");
      } else if (t == ".visible" || t == ".extern" || t == ".weak") {
        next();
      } else if (t == ".entry" || t == ".func") {
        if (!parseFunction())
          return false;
      } else if (t == ".global" || t == ".shared" || t == ".const") {
        Variable v;
        if (!parseVariable(v, /*moduleScope=*/true))
          return false;
      } else if (t == ".file" || t == ".section") {
        return fail("debug directive '" + t +
                    "' is not supported (compile without -g / -lineinfo)");
      } else {
        return fail("unsupported module directive '" + t + "'");
      }
    }
    return true;
  }

  /// `.shared .align 16 .b8 name[123];` and friends. The caller has not
  /// consumed the state space.
  bool parseVariable(Variable &v, bool moduleScope) {
    accept(".extern"); // only meaningful for unsized .shared arrays
    std::string sp = next().text.substr(1);
    if (!parseSpace(sp, v.space))
      return fail("unknown state space '." + sp + "'");
    unsigned vec = 1;
    Ty t = Ty::None;
    while (peek().text.size() > 1 && peek().text[0] == '.') {
      std::string m = next().text.substr(1);
      if (m == "align") {
        uint64_t a = 0;
        if (!integer(a))
          return false;
        v.align = static_cast<unsigned>(a);
      } else if (m == "v2") {
        vec = 2;
      } else if (m == "v4") {
        vec = 4;
      } else if (!parseType(m, t)) {
        return fail("unknown variable attribute '." + m + "'");
      }
    }
    if (t == Ty::None)
      return fail("variable declaration without a type");
    v.name = next().text;
    uint64_t count = 1;
    bool unsized = false;
    while (accept("[")) {
      if (accept("]")) {
        unsized = true;
        continue;
      }
      uint64_t d = 0;
      if (!integer(d) || !expect("]"))
        return false;
      count *= d;
    }
    v.size = unsized ? 0 : count * sizeOf(t) * vec;
    if (v.align < sizeOf(t) * vec)
      v.align = std::max<unsigned>(v.align, sizeOf(t));
    if (accept("=")) {
      std::vector<uint64_t> values;
      bool braced = accept("{");
      do {
        bool neg = accept("-");
        if (peek().kind != Token::Number)
          return fail("unsupported initialiser '" + peek().text + "'");
        uint64_t bits = 0;
        parseNumber(next().text, neg, t, bits);
        values.push_back(bits);
      } while (accept(","));
      if (braced && !expect("}"))
        return false;
      unsigned es = sizeOf(t);
      v.init.assign(v.size, 0);
      for (size_t i = 0; i < values.size() && (i + 1) * es <= v.size; ++i)
        std::memcpy(v.init.data() + i * es, &values[i], es);
    }
    if (!expect(";"))
      return false;
    v.externDynamic = unsized && v.space == Space::Shared;
    if (unsized && !v.externDynamic)
      return fail("unsized array '" + v.name + "' outside .extern .shared");
    if (moduleScope) {
      if (v.space == Space::Shared) {
        module_->shared.push_back(v);
      } else {
        nextGlobal_ = (nextGlobal_ + v.align - 1) / v.align * v.align;
        v.offset = nextGlobal_;
        nextGlobal_ += std::max<uint64_t>(v.size, 1);
        module_->globals.push_back(v);
      }
    }
    return true;
  }

  int32_t lookupRegister(const std::string &r) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(r);
      if (f != it->end())
        return f->second;
    }
    return -1;
  }

  bool declareRegisters() {
    // .reg .b32 %r<100>;  or  .reg .pred %p, %q;  or  .reg .v2 .b32 ...
    next(); // .reg
    std::string m = next().text;
    if (m == ".v2" || m == ".v4")
      return fail("vector registers are not supported");
    Ty t;
    if (m.size() < 2 || !parseType(m.substr(1), t))
      return fail("unknown register type '" + m + "'");
    do {
      // Inline-asm blocks name scoped registers without a '%' ("p").
      if (peek().kind != Token::Ident || peek().text[0] == '.')
        return fail("expected a register name, found '" + peek().text + "'");
      std::string nm = next().text;
      if (accept("<")) {
        uint64_t count = 0;
        if (!integer(count) || !expect(">"))
          return false;
        for (uint64_t i = 0; i < count; ++i)
          addRegister(nm + std::to_string(i), t);
      } else {
        addRegister(nm, t);
      }
    } while (accept(","));
    return expect(";");
  }

  void addRegister(const std::string &nm, Ty t) {
    int32_t index = static_cast<int32_t>(fn_->registers.size());
    fn_->registers.push_back({nm, t});
    scopes_.back()[nm] = index;
  }

  bool parseParams(std::vector<Param> &params) {
    if (!expect("("))
      return false;
    if (accept(")"))
      return true;
    do {
      if (!expect(".param"))
        return false;
      Param p;
      p.align = 0;
      Ty t = Ty::None;
      uint64_t count = 1;
      while (peek().text.size() > 1 && peek().text[0] == '.') {
        std::string m = next().text.substr(1);
        if (m == "align") {
          uint64_t a = 0;
          if (!integer(a))
            return false;
          p.align = static_cast<unsigned>(a);
        } else if (m == "ptr" || m == "global" || m == "shared" ||
                   m == "const" || m == "local") {
          // .ptr .global .align N: an attribute of the pointer, not the
          // parameter: the next .align belongs to it.
          if (m == "ptr" && is(".global"))
            next();
          if (m == "ptr" && accept(".align")) {
            uint64_t ignored = 0;
            if (!integer(ignored))
              return false;
          }
        } else if (!parseType(m, t)) {
          return fail("unknown parameter attribute '." + m + "'");
        }
      }
      p.name = next().text;
      while (accept("[")) {
        uint64_t d = 0;
        if (!integer(d) || !expect("]"))
          return false;
        count *= d;
      }
      p.type = t;
      p.size = static_cast<unsigned>(sizeOf(t) * count);
      if (p.align == 0)
        p.align = sizeOf(t);
      params.push_back(p);
    } while (accept(","));
    return expect(")");
  }

  bool parseFunction() {
    bool isEntry = next().text == ".entry";
    auto f = std::make_unique<Function>();
    f->isEntry = isEntry;
    fn_ = f.get();
    scopes_.clear();
    scopes_.emplace_back();
    localVars_.clear();
    functionShared_.clear();
    pendingLabels_.clear();
    labelScopes_.assign(1, 0);
    nextLabelScope_ = 0;
    if (!isEntry && is("(")) {
      std::vector<Param> ret;
      if (!parseParams(ret))
        return false;
      if (!ret.empty())
        return fail(".func with return values is not supported");
    }
    f->name = next().text;
    if (!parseParams(f->params))
      return false;
    unsigned offset = 0;
    for (Param &p : f->params) {
      offset = (offset + p.align - 1) / p.align * p.align;
      p.offset = offset;
      offset += p.size;
    }
    f->paramBytes = offset;
    // Performance directives.
    while (peek().text.size() > 1 && peek().text[0] == '.') {
      std::string d = next().text;
      unsigned *dims = d == ".maxntid"   ? f->maxntid
                       : d == ".reqntid" ? f->reqntid
                                         : nullptr;
      if (d == ".minnctapersm" || d == ".maxnreg" || d == ".maxclusterrank" ||
          d == ".pragma" || d == ".noreturn") {
        if (d == ".pragma")
          next();
        else if (d != ".noreturn") {
          uint64_t ignored = 0;
          if (!integer(ignored))
            return false;
        }
        accept(";");
        continue;
      }
      if (!dims)
        return fail("unsupported function directive '" + d + "'");
      for (int i = 0; i < 3; ++i) {
        uint64_t v = 0;
        if (!integer(v))
          return false;
        dims[i] = static_cast<unsigned>(v);
        if (!accept(","))
          break;
      }
    }
    if (accept(";")) { // a declaration only
      module_->functions.push_back(std::move(f));
      return true;
    }
    // Module-scope shared variables come first in the CTA's shared memory.
    uint64_t shared = 0;
    for (Variable &v : module_->shared) {
      shared = (shared + v.align - 1) / v.align * v.align;
      v.offset = shared;
      shared += v.size;
    }
    fn_->staticShared = shared;
    if (!expect("{"))
      return false;
    if (!parseBody())
      return false;
    for (const LabelUse &use : pendingLabels_) {
      auto it = fn_->labels.end();
      for (auto s = use.scopes.rbegin();
           s != use.scopes.rend() && it == fn_->labels.end(); ++s)
        it = fn_->labels.find(labelKey(use.name, *s));
      Inst &inst = fn_->code[use.inst];
      if (it == fn_->labels.end())
        return failAt(inst.line,
                      "branch to undefined label '" + use.name + "'");
      for (Operand &o : inst.ops)
        if (o.kind == Operand::Label && o.index == -1)
          o.index = static_cast<int32_t>(it->second);
    }
    // Falling off the end returns.
    Inst ret;
    ret.op = Op::Ret;
    ret.line = peek().line;
    ret.text = "ret (end of function)";
    fn_->code.push_back(ret);
    module_->functions.push_back(std::move(f));
    return true;
  }

  bool parseBody() {
    int depth = 1;
    while (depth > 0) {
      const Token &t = peek();
      if (t.kind == Token::End)
        return fail("unterminated function body");
      if (t.text == "{") {
        next();
        ++depth;
        scopes_.emplace_back();
        labelScopes_.push_back(++nextLabelScope_);
        continue;
      }
      if (t.text == "}") {
        next();
        --depth;
        if (depth > 0) {
          scopes_.pop_back();
          labelScopes_.pop_back();
        }
        continue;
      }
      if (t.text == ".reg") {
        if (!declareRegisters())
          return false;
        continue;
      }
      if (t.text == ".shared" || t.text == ".local" || t.text == ".global" ||
          t.text == ".const" ||
          (t.text == ".extern" && peek(1).text == ".shared")) {
        Variable v;
        if (!parseVariable(v, /*moduleScope=*/false))
          return false;
        if (v.space == Space::Shared) {
          if (v.externDynamic) {
            v.offset = ~0ull; // resolved at launch: after the static ones
          } else {
            fn_->staticShared =
                (fn_->staticShared + v.align - 1) / v.align * v.align;
            v.offset = fn_->staticShared;
            fn_->staticShared += v.size;
          }
          functionShared_.push_back(v);
        } else if (v.space == Space::Local) {
          fn_->localBytes = (fn_->localBytes + v.align - 1) / v.align * v.align;
          localVars_[v.name] = fn_->localBytes;
          fn_->localBytes += v.size;
        } else {
          return fail(
              "function-scope ." +
              std::string(v.space == Space::Global ? "global" : "const") +
              " variables are not supported");
        }
        continue;
      }
      if (t.text == ".pragma") {
        next();
        next();
        if (!expect(";"))
          return false;
        continue;
      }
      if (t.text == ".loc" || t.text == ".file")
        return fail("debug directive '" + t.text + "' is not supported");
      if (t.kind == Token::Ident && peek(1).text == ":" && t.text[0] != '.') {
        std::string key = labelKey(t.text, labelScopes_.back());
        if (fn_->labels.count(key))
          return fail("label '" + t.text + "' defined twice in one scope");
        fn_->labels[key] = static_cast<uint32_t>(fn_->code.size());
        next();
        next();
        continue;
      }
      if (!parseInstruction())
        return false;
    }
    return true;
  }

  /// .shared variables declared in the function being parsed.
  std::vector<Variable> functionShared_;

  const Variable *findShared(const std::string &nm) const {
    for (const Variable &v : functionShared_)
      if (v.name == nm)
        return &v;
    for (const Variable &v : module_->shared)
      if (v.name == nm)
        return &v;
    return nullptr;
  }
  const Variable *findGlobal(const std::string &nm) const {
    for (const Variable &v : module_->globals)
      if (v.name == nm)
        return &v;
    return nullptr;
  }
  const Param *findParam(const std::string &nm) const {
    for (const Param &p : fn_->params)
      if (p.name == nm)
        return &p;
    return nullptr;
  }

  /// A symbol as an address: its space and address within that space.
  bool symbolAddress(const std::string &nm, Operand &o) {
    if (const Param *p = findParam(nm)) {
      o.symbolSpace = Space::Param;
      o.symbolAddress = p->offset;
    } else if (const Variable *v = findShared(nm)) {
      o.symbolSpace = Space::Shared;
      o.symbolAddress = v->offset; // ~0: the dynamic array (patched later)
    } else if (const Variable *g = findGlobal(nm)) {
      o.symbolSpace = g->space;
      o.symbolAddress = g->offset;
    } else if (localVars_.count(nm)) {
      o.symbolSpace = Space::Local;
      o.symbolAddress = localVars_[nm];
    } else {
      return false;
    }
    o.hasSymbol = true;
    return true;
  }

  bool parseOperand(Operand &o, Ty immType) {
    const Token &t = peek();
    if (t.text == "{") {
      next();
      o.kind = Operand::Vec;
      do {
        Operand e;
        if (!parseOperand(e, immType))
          return false;
        o.elems.push_back(e);
      } while (accept(","));
      return expect("}");
    }
    if (t.text == "[") {
      next();
      o.kind = Operand::Addr;
      if (peek().kind == Token::Ident) {
        std::string nm = next().text;
        if (nm[0] == '%') {
          o.base = lookupRegister(nm);
          if (o.base < 0)
            return fail("unknown register '" + nm + "'");
        } else if (!symbolAddress(nm, o)) {
          return fail("unknown symbol '" + nm + "'");
        }
      }
      if (accept("+")) {
        bool neg = accept("-");
        uint64_t v = 0;
        if (peek().kind != Token::Number)
          return fail("expected an offset, found '" + peek().text + "'");
        parseNumber(next().text, neg, Ty::S64, v);
        o.imm = v;
      } else if (accept("-")) {
        uint64_t v = 0;
        parseNumber(next().text, true, Ty::S64, v);
        o.imm = v;
      } else if (o.base < 0 && !o.hasSymbol && peek().kind == Token::Number) {
        parseNumber(next().text, false, Ty::U64, o.imm);
      }
      // [tensorMap, {c0, c1, ...}]: cp.async.bulk.tensor's coordinates.
      if (accept(",")) {
        Operand coords;
        if (!parseOperand(coords, Ty::S32))
          return false;
        if (coords.kind != Operand::Vec)
          return fail("expected {coordinates} after the tensor map");
        o.elems = std::move(coords.elems);
      }
      return expect("]");
    }
    if (t.text == "!") {
      next();
      if (!parseOperand(o, immType))
        return false;
      o.negate = true;
      return true;
    }
    if (t.text == "-" || t.kind == Token::Number) {
      bool neg = accept("-");
      if (peek().kind != Token::Number)
        return fail("expected a number after '-'");
      o.kind = Operand::Imm;
      try {
        parseNumber(next().text, neg, immType, o.imm);
      } catch (...) {
        return fail("bad number '" + t.text + "'");
      }
      return true;
    }
    if (t.kind == Token::Ident) {
      std::string nm = next().text;
      if (nm == "_") {
        o.kind = Operand::Sink;
        return true;
      }
      if (nm[0] == '%') {
        int32_t r = lookupRegister(nm);
        if (r >= 0) {
          o.kind = Operand::Reg;
          o.index = r;
          return true;
        }
        Special s;
        if (parseSpecial(nm, s)) {
          o.kind = Operand::Spec;
          o.index = static_cast<int32_t>(s);
          return true;
        }
        return fail("unknown register '" + nm + "'");
      }
      if (int32_t r = lookupRegister(nm); r >= 0) { // a '%'-less register
        o.kind = Operand::Reg;
        o.index = r;
        return true;
      }
      // A symbol used as a value (its address) or a branch target.
      Operand sym;
      if (symbolAddress(nm, sym)) {
        o = sym;
        o.kind = Operand::Imm;
        o.imm = sym.symbolAddress;
        return true;
      }
      o.kind = Operand::Label;
      o.index = -1;
      pendingLabels_.push_back({fn_->code.size(), nm, labelScopes_});
      return true;
    }
    return fail("unexpected '" + t.text + "' in an operand");
  }

  bool parseInstruction() {
    Inst inst;
    const Token &first = peek();
    inst.line = first.line;
    size_t startTok = pos_;
    if (accept("@")) {
      bool neg = accept("!");
      std::string p = next().text;
      inst.guard = lookupRegister(p);
      if (inst.guard < 0)
        return fail("unknown predicate '" + p + "'");
      inst.guardNegated = neg;
    }
    const Token &opTok = next();
    if (opTok.kind != Token::Ident)
      return fail("expected an instruction, found '" + opTok.text + "'");
    if (!decode(opTok.text, inst))
      return false;
    Ty immType = inst.type;
    if (inst.op == Op::Cvt)
      immType = inst.type2;
    if (inst.op == Op::Setp || inst.op == Op::Set)
      immType = inst.type2;
    if (inst.op == Op::Wgmma || inst.op == Op::WgmmaWait)
      immType = Ty::S32; // scale-d, scales and transposes are integers
    while (!is(";")) {
      if (peek().kind == Token::End)
        return fail("missing ';'");
      Operand o;
      // setp's second destination: %p|%q
      if (!parseOperand(o, immType))
        return false;
      inst.ops.push_back(o);
      if (accept("|")) {
        Operand q;
        if (!parseOperand(q, immType))
          return false;
        inst.ops.push_back(q);
        inst.mods |= M_PAIR; // marks the two-destination form
      }
      if (!accept(","))
        break;
    }
    if (!expect(";"))
      return false;
    std::ostringstream text;
    for (size_t i = startTok; i < pos_ - 1; ++i) {
      if (i > startTok && toks_[i].text != "," && toks_[i].text != "]" &&
          toks_[i - 1].text != "[" && toks_[i - 1].text != "@" &&
          toks_[i - 1].text != "!")
        text << ' ';
      text << toks_[i].text;
    }
    inst.text = text.str();
    if (!checkOperands(inst))
      return false;
    fn_->code.push_back(std::move(inst));
    return true;
  }

  bool checkOperands(const Inst &inst) {
    auto needs = [&](size_t count) {
      if (inst.ops.size() >= count)
        return true;
      return failAt(inst.line, "'" + inst.text + "' needs " +
                                   std::to_string(count) + " operands");
    };
    switch (inst.op) {
    case Op::Bra:
      return needs(1);
    case Op::Ld:
    case Op::St:
    case Op::Mov:
    case Op::Cvt:
    case Op::Cvta:
    case Op::CvtaTo:
      return needs(2);
    default:
      return true;
    }
  }

  /// Decodes `base.mod.mod...` into the instruction's opcode, types and flags.
  bool decode(const std::string &full, Inst &inst) {
    std::vector<std::string> parts = split(full, '.');
    const std::string &base = parts[0];
    static const std::unordered_map<std::string, Op> ops = {
        {"ld", Op::Ld},
        {"ldu", Op::Ld},
        {"st", Op::St},
        {"mov", Op::Mov},
        {"cvta", Op::Cvta},
        {"add", Op::Add},
        {"sub", Op::Sub},
        {"mul", Op::Mul},
        {"mad", Op::Mad},
        {"fma", Op::Fma},
        {"div", Op::Div},
        {"rem", Op::Rem},
        {"min", Op::Min},
        {"max", Op::Max},
        {"abs", Op::Abs},
        {"neg", Op::Neg},
        {"and", Op::And},
        {"or", Op::Or},
        {"xor", Op::Xor},
        {"not", Op::Not},
        {"cnot", Op::Cnot},
        {"shl", Op::Shl},
        {"shr", Op::Shr},
        {"bfe", Op::Bfe},
        {"bfi", Op::Bfi},
        {"prmt", Op::Prmt},
        {"popc", Op::Popc},
        {"clz", Op::Clz},
        {"brev", Op::Brev},
        {"selp", Op::Selp},
        {"setp", Op::Setp},
        {"set", Op::Set},
        {"cvt", Op::Cvt},
        {"ex2", Op::Ex2},
        {"lg2", Op::Lg2},
        {"rcp", Op::Rcp},
        {"sqrt", Op::Sqrt},
        {"rsqrt", Op::Rsqrt},
        {"sin", Op::Sin},
        {"cos", Op::Cos},
        {"tanh", Op::Tanh},
        {"shfl", Op::Shfl},
        {"vote", Op::Vote},
        {"bar", Op::Bar},
        {"barrier", Op::Bar},
        {"bra", Op::Bra},
        {"ret", Op::Ret},
        {"exit", Op::Exit},
        {"mma", Op::Mma},
        {"ldmatrix", Op::Ldmatrix},
        {"cp", Op::CpAsync},
        {"atom", Op::Atom},
        {"red", Op::Red},
        {"membar", Op::Membar},
        {"fence", Op::Fence},
        {"wgmma", Op::Wgmma},
        {"trap", Op::Trap},
        {"redux", Op::Redux},
        {"bfind", Op::Bfind},
        {"activemask", Op::Activemask},
        {"match", Op::Match},
        {"nanosleep", Op::Nanosleep},
        {"mbarrier", Op::Mbarrier},
        {"wmma", Op::Wmma},
    };
    auto it = ops.find(base);
    if (it == ops.end())
      return fail("unsupported instruction '" + full + "'");
    inst.op = it->second;
    std::vector<Ty> types;
    auto bad = [&](const std::string &m) {
      return fail("unsupported modifier '." + m + "' in '" + full + "'");
    };
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string &m = parts[i];
      Ty t;
      Space s;
      // cp.async.bulk.tensor.Nd.shared::cluster.global[.tile]
      //   .mbarrier::complete_tx::bytes[.L2::cache_hint]: TMA loads.
      if (inst.op == Op::CpAsyncBulk) {
        if (m == "tensor" && inst.sub == Sub::None) {
          inst.sub = Sub::BulkTensor;
          continue;
        }
        if (m.size() == 2 && m[1] == 'd' && m[0] >= '1' && m[0] <= '5') {
          inst.k = static_cast<uint16_t>(m[0] - '0');
          continue;
        }
        if (m == "commit_group" || m == "wait_group") {
          inst.sub = m == "commit_group" ? Sub::BulkCommit : Sub::BulkWait;
          continue;
        }
        if (m == "read" && inst.sub == Sub::BulkWait)
          continue;
        // The destination's state space, then the source's.
        if (m == "shared::cluster" || m == "shared::cta" || m == "global") {
          Space sp = m == "global" ? Space::Global : Space::Shared;
          (inst.space == Space::Generic ? inst.space : inst.space2) = sp;
          continue;
        }
        if (m == "bulk_group") {
          inst.mods |= M_BULK_GROUP;
          continue;
        }
        if (m == "tile")
          continue;
        if (m == "mbarrier::complete_tx::bytes") {
          inst.mods |= M_EXPECT_TX;
          continue;
        }
        if (m == "L2::cache_hint") {
          inst.mods |= M_CACHE_HINT;
          continue;
        }
        return bad(m);
      }
      if (parseType(m, t)) {
        types.push_back(t);
        continue;
      }
      // State spaces (shared::cta is split by '.'-free "::").
      if (parseSpace(m, s) && inst.op != Op::Fence) {
        inst.space = s;
        continue;
      }
      if (inst.op == Op::Cvta && m == "to") {
        inst.op = Op::CvtaTo;
        continue;
      }
      static const std::unordered_map<std::string, uint32_t> flags = {
          {"rn", M_RN},           {"rz", M_RZ},
          {"rm", M_RM},           {"rp", M_RP},
          {"rni", M_RNI},         {"rzi", M_RZI},
          {"rmi", M_RMI},         {"rpi", M_RPI},
          {"ftz", M_FTZ},         {"sat", M_SAT},
          {"approx", M_APPROX},   {"NaN", M_NAN},
          {"lo", M_LO},           {"hi", M_HI},
          {"wide", M_WIDE},       {"uni", M_UNI},
          {"aligned", M_ALIGNED}, {"nc", M_NC},
          {"trans", M_TRANS},     {"acquire", M_ACQUIRE},
          {"release", M_RELEASE}, {"volatile", M_VOLATILE},
          {"full", M_FULL},       {"clamp", M_SHIFTCLAMP},
          {"wrap", M_WRAP}};
      auto f = flags.find(m);
      if (f != flags.end()) {
        inst.mods |= f->second;
        continue;
      }
      if (m == "v2" || m == "v4" || m == "v8") {
        inst.vec = static_cast<uint8_t>(m[1] - '0');
        continue;
      }
      // Ignored-with-meaning: these change nothing in a functional model with
      // sequentially consistent memory (documented in docs/simulator.md).
      if (m == "sync" || m == "relaxed" || m == "weak" || m == "gpu" ||
          m == "cta" || m == "sys" || m == "ca" || m == "cg" || m == "cs" ||
          m == "lu" || m == "cv" || m == "wb" || m == "wt" || m == "L1" ||
          m == "L2" || ((m == "row" || m == "col") && inst.op != Op::Wmma) ||
          m == "satfinite" || m == "sc" || m == "acq_rel" || m == "cluster" ||
          m == "shared::cta" || m == "noftz" || m == "ftz") {
        continue;
      }
      if (inst.op == Op::Setp || inst.op == Op::Set) {
        static const std::unordered_map<std::string, Cmp> cmps = {
            {"eq", Cmp::Eq},   {"ne", Cmp::Ne},   {"lt", Cmp::Lt},
            {"le", Cmp::Le},   {"gt", Cmp::Gt},   {"ge", Cmp::Ge},
            {"lo", Cmp::Lo},   {"ls", Cmp::Ls},   {"hi", Cmp::Hi},
            {"hs", Cmp::Hs},   {"equ", Cmp::Equ}, {"neu", Cmp::Neu},
            {"ltu", Cmp::Ltu}, {"leu", Cmp::Leu}, {"gtu", Cmp::Gtu},
            {"geu", Cmp::Geu}, {"num", Cmp::Num}, {"nan", Cmp::Nan}};
        auto c = cmps.find(m);
        if (c != cmps.end() && inst.cmp == Cmp::None) {
          inst.cmp = c->second;
          continue;
        }
        if (m == "and" || m == "or" || m == "xor") {
          inst.boolOp = m == "and"  ? BoolOp::And
                        : m == "or" ? BoolOp::Or
                                    : BoolOp::Xor;
          continue;
        }
      }
      // Sub-operations of shfl, vote, atom and red, keyed by opcode.
      static const std::map<std::pair<Op, std::string>, Sub> subs = {
          {{Op::Shfl, "up"}, Sub::Up},      {{Op::Shfl, "down"}, Sub::Down},
          {{Op::Shfl, "bfly"}, Sub::Bfly},  {{Op::Shfl, "idx"}, Sub::Idx},
          {{Op::Vote, "all"}, Sub::All},    {{Op::Vote, "any"}, Sub::Any},
          {{Op::Vote, "uni"}, Sub::Uni},    {{Op::Vote, "ballot"}, Sub::Ballot},
          {{Op::Atom, "add"}, Sub::AAdd},   {{Op::Atom, "min"}, Sub::AMin},
          {{Op::Atom, "max"}, Sub::AMax},   {{Op::Atom, "inc"}, Sub::AInc},
          {{Op::Atom, "dec"}, Sub::ADec},   {{Op::Atom, "and"}, Sub::AAnd},
          {{Op::Atom, "or"}, Sub::AOr},     {{Op::Atom, "xor"}, Sub::AXor},
          {{Op::Atom, "exch"}, Sub::AExch}, {{Op::Atom, "cas"}, Sub::ACas}};
      // red and redux take atom's operations.
      bool atomLike = inst.op == Op::Red || inst.op == Op::Redux;
      auto sub = subs.find({atomLike ? Op::Atom : inst.op, m});
      if (sub != subs.end() && inst.sub == Sub::None) {
        inst.sub = sub->second;
        continue;
      }
      if (inst.op == Op::Bar) {
        if (m == "warp") {
          inst.op = Op::BarWarp;
          continue;
        }
        if (m == "arrive" && inst.sub == Sub::None) {
          inst.sub = Sub::BarArrive;
          continue;
        }
        if (m == "red")
          return bad(m);
      }
      if (inst.op == Op::Wmma) {
        if (m == "load" || m == "store" || m == "mma") {
          inst.sub = m == "load"    ? Sub::WLoad
                     : m == "store" ? Sub::WStore
                                    : Sub::WMma;
          continue;
        }
        if (m.size() == 1 && m[0] >= 'a' && m[0] <= 'd' && !inst.matrix) {
          inst.matrix = m[0];
          continue;
        }
        if (m == "row" || m == "col") {
          if (m == "col")
            inst.colLayouts |= 1u << inst.layoutCount;
          ++inst.layoutCount;
          continue;
        }
        if (m == "m16n16k16") {
          inst.m = inst.n = inst.k = 16;
          continue;
        }
      }
      if (inst.op == Op::Bfind && m == "shiftamt") {
        inst.mods |= M_SHIFTAMT;
        continue;
      }
      if (inst.op == Op::Match && (m == "any" || m == "all")) {
        inst.sub = m == "any" ? Sub::MatchAny : Sub::MatchAll;
        continue;
      }
      if (inst.op == Op::Mbarrier) {
        static const std::unordered_map<std::string, Sub> msubs = {
            {"init", Sub::MInit},          {"inval", Sub::MInval},
            {"arrive", Sub::MArrive},      {"arrive_drop", Sub::MArriveDrop},
            {"test_wait", Sub::MTestWait}, {"try_wait", Sub::MTryWait},
            {"expect_tx", Sub::MExpectTx}, {"complete_tx", Sub::MCompleteTx}};
        auto ms = msubs.find(m);
        if (ms != msubs.end()) {
          if (inst.sub == Sub::None)
            inst.sub = ms->second;
          else if (ms->second == Sub::MExpectTx &&
                   (inst.sub == Sub::MArrive || inst.sub == Sub::MArriveDrop))
            inst.mods |= M_EXPECT_TX;
          else
            return bad(m);
          continue;
        }
        if (m == "parity") {
          inst.mods |= M_PARITY;
          continue;
        }
      }
      if (inst.op == Op::CpAsync && m == "mbarrier") {
        inst.op = Op::CpAsyncArrive;
        continue;
      }
      if (inst.op == Op::CpAsyncArrive) {
        if (m == "arrive")
          continue;
        if (m == "noinc") {
          inst.mods |= M_NOINC;
          continue;
        }
      }
      if (inst.op == Op::CpAsync && m == "bulk") {
        inst.op = Op::CpAsyncBulk;
        continue;
      }
      if (inst.op == Op::CpAsync) {
        if (m == "async" || m == "L2::64B" || m == "L2::128B" ||
            m == "L2::256B")
          continue;
        if (m == "commit_group") {
          inst.op = Op::CpAsyncCommit;
          continue;
        }
        if (m == "wait_group") {
          inst.op = Op::CpAsyncWait;
          continue;
        }
        if (m == "wait_all") {
          inst.op = Op::CpAsyncWait;
          inst.n = 0xffff;
          continue;
        }
      }
      if (inst.op == Op::Fence || inst.op == Op::Membar) {
        if (m == "proxy") {
          inst.op = Op::ProxyFence;
          continue;
        }
        // fence.mbarrier_init orders mbarrier.init before other threads'
        // (and the async proxy's) uses: already so under sequential
        // consistency.
        if (m == "async" || m == "shared::cta" || m == "sc" || m == "acq_rel" ||
            m == "shared" || m == "mbarrier_init")
          continue;
      }
      if (inst.op == Op::ProxyFence && (m == "async" || m == "shared"))
        continue;
      if (inst.op == Op::Wgmma) {
        if (m == "fence") {
          inst.op = Op::WgmmaFence;
          continue;
        }
        if (m == "commit_group") {
          inst.op = Op::WgmmaCommit;
          continue;
        }
        if (m == "wait_group") {
          inst.op = Op::WgmmaWait;
          continue;
        }
        if (m == "mma_async")
          continue;
      }
      if ((inst.op == Op::Mma || inst.op == Op::Wgmma ||
           inst.op == Op::Ldmatrix) &&
          m.size() > 1 && m[0] == 'm' && std::isdigit(m[1])) {
        unsigned mm = 0, nn = 0, kk = 0;
        if (std::sscanf(m.c_str(), "m%un%uk%u", &mm, &nn, &kk) == 3) {
          inst.m = static_cast<uint16_t>(mm);
          inst.n = static_cast<uint16_t>(nn);
          inst.k = static_cast<uint16_t>(kk);
          continue;
        }
        if (std::sscanf(m.c_str(), "m%un%u", &mm, &nn) == 2) {
          inst.m = static_cast<uint16_t>(mm);
          inst.n = static_cast<uint16_t>(nn);
          continue;
        }
      }
      if (inst.op == Op::Ldmatrix && (m == "x1" || m == "x2" || m == "x4")) {
        inst.k = static_cast<uint16_t>(m[1] - '0');
        continue;
      }
      if (inst.op == Op::Ldmatrix && m == "b16")
        continue;
      return bad(m);
    }
    // Types: most take one; cvt takes dst.src; mma d.a.b.c; wgmma d.a.b.
    if (!types.empty())
      inst.type = types[0];
    if (inst.op == Op::Cvt) {
      if (types.size() != 2)
        return fail("'" + full + "' needs a destination and a source type");
      inst.type2 = types[1];
    } else if (inst.op == Op::Mma) {
      if (types.size() != 4)
        return fail("'" + full + "': expected .dtype.atype.btype.ctype");
      inst.type2 = types[1];
      inst.type3 = types[3];
      if (types[1] != types[2])
        return fail("'" + full + "': mixed A/B types are not supported");
    } else if (inst.op == Op::Wgmma) {
      if (types.size() != 3)
        return fail("'" + full + "': expected .dtype.atype.btype");
      inst.type2 = types[1];
    } else if (inst.op == Op::CpAsyncBulk) {
      bool load = inst.space == Space::Shared && inst.space2 == Space::Global &&
                  (inst.mods & M_EXPECT_TX);
      bool store = inst.space == Space::Global &&
                   inst.space2 == Space::Shared && (inst.mods & M_BULK_GROUP);
      if (inst.sub != Sub::BulkCommit && inst.sub != Sub::BulkWait &&
          (inst.sub != Sub::BulkTensor || inst.k == 0 || !(load || store)))
        return fail("'" + full +
                    "': the modelled bulk copies are tiled TMA loads "
                    "(cp.async.bulk.tensor.Nd.shared::cluster.global[.tile]."
                    "mbarrier::complete_tx::bytes) and stores (cp.async.bulk."
                    "tensor.Nd.global.shared::cta[.tile].bulk_group), with "
                    "cp.async.bulk.commit_group/wait_group");
    } else if (inst.op == Op::Wmma) {
      if (inst.sub == Sub::None || inst.m != 16)
        return fail("'" + full +
                    "': expected wmma.{load,store,mma} of shape "
                    "m16n16k16 (the one modelled)");
      if (inst.sub == Sub::WMma) {
        // .dtype.ctype (f16 inputs) or .dtype.atype.btype.ctype
        if (types.size() == 2) {
          inst.type2 = Ty::F16;
          inst.type3 = types[1];
        } else if (types.size() == 4 && types[1] == types[2]) {
          inst.type2 = types[1];
          inst.type3 = types[3];
        } else {
          return fail("'" + full +
                      "': expected .dtype.ctype or "
                      ".dtype.atype.btype.ctype");
        }
        if (inst.layoutCount != 2)
          return fail("'" + full + "': expected .alayout.blayout");
      } else if (types.size() != 1 || inst.layoutCount != 1 || !inst.matrix) {
        return fail("'" + full + "': expected .{a,b,c,d}.layout and one type");
      }
    } else if (inst.op == Op::Setp || inst.op == Op::Set) {
      inst.type2 = types.empty() ? Ty::None : types.back();
      inst.type = inst.op == Op::Setp ? Ty::Pred : types[0];
      if (inst.cmp == Cmp::None)
        return fail("'" + full + "' has no comparison");
    } else if (types.size() > 1 && inst.op != Op::Atom && inst.op != Op::Red) {
      return fail("'" + full + "' has more than one type");
    }
    if (inst.op == Op::Ld && base == "ldu")
      inst.mods |= M_NC;
    return true;
  }
};

} // namespace

std::unique_ptr<Module> tessera::sim::parsePtx(const std::string &text,
                                               std::string &error) {
  std::vector<Token> tokens;
  if (!lex(text, tokens, error))
    return nullptr;
  try {
    Parser parser(std::move(tokens));
    return parser.run(error);
  } catch (const std::exception &e) {
    error = std::string("malformed PTX: ") + e.what();
    return nullptr;
  }
}
