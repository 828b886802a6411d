# socks5wrap: plain GNU make.
#
#   make                  library and launcher into build/
#   make test             unit tests, snippet programs, integration tests
#   make test SANITIZE=1  the same, built with ASan+UBSan into build-san/
#   make tsan             unit tests and a threaded stress program (the
#                         preload's objects linked into it, not preloaded),
#                         built with ThreadSanitizer into build-tsan/; a
#                         race report fails it with status 88
#   make WERROR=1         warnings are errors (CI)
#   make M32=0            no 32-bit library (built when $(CC) -m32 works)
#   make install PREFIX=/usr/local DESTDIR=
#   make fuzz FUZZ_SECONDS=60   (clang, libFuzzer)

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PYTHON ?= /usr/bin/python3
CFLAGS ?= -O2 -g
SANITIZE ?=
TSAN ?=
WERROR ?=
M32 ?= 1

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else ifeq ($(TSAN),1)
BUILD ?= build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
# ThreadSanitizer has no 32-bit x86 runtime.
M32 := 0
else
BUILD ?= build
SANFLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-align \
	-Wwrite-strings
ifeq ($(WERROR),1)
WARN += -Werror
endif

# The library is built once more with -m32 for 32-bit programs when the
# compiler can (gcc-multilib). Each build lives in the directory its
# dynamic loader puts in place of $LIB, installed and in the build tree
# alike, so that one LD_PRELOAD entry, DIR/$LIB/libsocks5wrap.so, names
# the right file for 32- and 64-bit programs. scripts/lib-token.sh asks
# both loaders what they put there and writes LIB_TOKEN (this machine's),
# LIB_TOKEN32 (empty without a 32-bit build), LIB_TOKEN32_WHY and
# LIB_TOKEN_ASKED; it asks again when the compiler or M32 changed.
LIB_TOKEN_MK := $(BUILD)/lib-token.mk
LIB_TOKEN_ASK := $(M32) $(CC) $(SANFLAGS)
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(LIB_TOKEN_MK)
endif
LIBDIR ?= $(PREFIX)/$(or $(LIB_TOKEN),lib)
LIB32DIR ?= $(PREFIX)/$(LIB_TOKEN32)
PKGLIBDIR := $(LIBDIR)/socks5wrap
PKGLIBDIR32 := $(if $(LIB_TOKEN32),$(LIB32DIR)/socks5wrap)
CPPFLAGS_ALL := -D_GNU_SOURCE -Iinclude -DS5_VERSION_STR='"$(VERSION)"' \
	-DS5_PKGLIBDIR='"$(PKGLIBDIR)"' -DS5_PKGLIBDIR32='"$(PKGLIBDIR32)"' \
	-DS5_LIB_TOKEN='"$(LIB_TOKEN)"' -DS5_LIB_TOKEN32='"$(LIB_TOKEN32)"' \
	$(CPPFLAGS)
CFLAGS_ALL := -std=c11 $(WARN) -fPIC -fvisibility=hidden \
	-fno-strict-aliasing $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)
# The library must not link with a symbol left undefined (a missing
# function would fail only when a program loads it); sanitizer builds
# take their runtime from the program, so they cannot say that.
LIB_DEFS := $(if $(SANFLAGS),,-Wl,-z,defs)

CORE_SRC := $(sort $(wildcard src/proto/*.c src/log/*.c src/config/*.c \
	src/net/*.c src/dns/*.c src/udp/*.c))
PRELOAD_SRC := $(sort $(wildcard src/preload/*.c))
LAUNCHER_SRC := $(sort $(wildcard src/launcher/*.c))
SUPERVISE_SRC := $(sort $(wildcard src/supervise/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
SNIPPET_SRC := $(sort $(wildcard tests/snippets/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ := $(call obj,$(CORE_SRC))
PRELOAD_OBJ := $(call obj,$(PRELOAD_SRC))
LAUNCHER_OBJ := $(call obj,$(LAUNCHER_SRC))
SUPERVISE_OBJ := $(call obj,$(SUPERVISE_SRC))
# The plain-libc I/O seams are for the launcher and the tests, never in the
# library: there those names are its own hooks.
LIBC_IO_OBJ := $(call obj,$(wildcard src/*/io_libc.c))
LIB_CORE_OBJ := $(filter-out $(LIBC_IO_OBJ),$(CORE_OBJ))

LIB := $(BUILD)/libsocks5wrap.so
LAUNCHER := $(BUILD)/socks5wrap

# The launcher is linked statically with musl when musl-gcc is there and
# works (package musl-tools): no dynamic loader and no glibc start-up, so
# it adds little to a program's own start (README "How it is built").
# Otherwise, in sanitizer builds, or with MUSL=0, it is built with $(CC)
# as the rest. musl's headers lack linux/, asm/ and asm-generic/: a
# build-local directory links to the kernel's, searched after musl's.
MUSL ?= 1
MUSL_CC ?= musl-gcc
ifeq ($(MUSL)$(SANITIZE)$(TSAN),1)
MUSL_INC := $(BUILD)/musl/include
MUSL_ASM := $(firstword $(wildcard \
	/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)/asm) \
	/usr/include/asm)
MUSL_WORKS := $(shell d=$$(mktemp -d) && \
	printf '\043include <linux/seccomp.h>\nint main(void){return 0;}\n' \
		>$$d/t.c && mkdir $$d/inc && \
	ln -s /usr/include/linux /usr/include/asm-generic $(MUSL_ASM) \
		$$d/inc/ && \
	$(MUSL_CC) -static -idirafter $$d/inc -o $$d/t $$d/t.c \
		>/dev/null 2>&1 && $$d/t && echo yes; rm -rf $$d)
endif
ifeq ($(MUSL_WORKS),yes)
LAUNCHER_CC := $(MUSL_CC)
LAUNCHER_HOW := static, $(MUSL_CC)
LAUNCHER_OBJDIR := $(BUILD)/musl/obj
LAUNCHER_CFLAGS := -idirafter $(MUSL_INC)
LAUNCHER_LDFLAGS := -static
else
LAUNCHER_CC := $(CC)
LAUNCHER_HOW := dynamic, $(CC)$(if $(filter 1,$(MUSL)$(SANITIZE)$(TSAN)), \
	(no working $(MUSL_CC)))
LAUNCHER_OBJDIR := $(BUILD)/obj
LAUNCHER_CFLAGS :=
LAUNCHER_LDFLAGS := -lpthread
endif
LAUNCHER_ALL_OBJ := $(patsubst %.c,$(LAUNCHER_OBJDIR)/%.o,\
	$(LAUNCHER_SRC) $(SUPERVISE_SRC) $(CORE_SRC))

# With a 32-bit build: $(BUILD)/$(LIB_TOKEN)/libsocks5wrap.so is a link to
# $(LIB), $(BUILD)/$(LIB_TOKEN32)/libsocks5wrap.so the 32-bit library.
LIB_LINK := $(if $(LIB_TOKEN32),$(BUILD)/$(LIB_TOKEN)/libsocks5wrap.so)
LIB32 := $(if $(LIB_TOKEN32),$(BUILD)/$(LIB_TOKEN32)/libsocks5wrap.so)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SNIPPET_BIN := $(patsubst tests/snippets/%.c,$(BUILD)/snippets/%,\
	$(filter-out tests/snippets/ctorlib.c,$(SNIPPET_SRC)))
CTORLIB := $(BUILD)/snippets/libctor.so
# The same programs built with -m32, run under the 32-bit library.
SNIPPET32_BIN := $(if $(LIB32),$(SNIPPET_BIN:$(BUILD)/snippets/%=\
	$(BUILD)/snippets32/%))
CTORLIB32 := $(if $(LIB32),$(BUILD)/snippets32/libctor.so)
TSAN_STRESS := $(BUILD)/tsan/stress
MAPFILE := src/preload/libsocks5wrap.map

.PHONY: all test unit snippets integration install uninstall clean fuzz \
	bench demo check-exports tsan tsan-stress
all: $(LIB) $(LAUNCHER) $(LIB32) $(LIB_LINK)

$(LIB_TOKEN_MK): scripts/lib-token.sh \
		$(if $(filter-out $(LIB_TOKEN_ASK),$(LIB_TOKEN_ASKED))$(filter-out \
		$(LIB_TOKEN_ASKED),$(LIB_TOKEN_ASK)),FORCE)
	@mkdir -p $(BUILD)
	@sh scripts/lib-token.sh $(BUILD)/lib-token $(LIB_TOKEN_ASK) \
		>$@.tmp && mv $@.tmp $@
FORCE:
ifeq ($(strip $(LIB_TOKEN_ASKED)),$(strip $(LIB_TOKEN_ASK)))
ifeq ($(LIB_TOKEN32),)
$(info socks5wrap: no 32-bit library: $(LIB_TOKEN32_WHY))
endif
endif
# The launcher knows where both builds are.
$(LAUNCHER_OBJDIR)/src/launcher/library.o: $(LIB_TOKEN_MK)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(LIB): $(LIB_CORE_OBJ) $(PRELOAD_OBJ) $(MAPFILE)
	$(CC) -shared -o $@ $(LIB_CORE_OBJ) $(PRELOAD_OBJ) $(LDFLAGS_ALL) \
		$(LIB_DEFS) -Wl,--version-script=$(MAPFILE) -ldl -lpthread

$(LAUNCHER): $(LAUNCHER_ALL_OBJ)
	@echo "launcher: $(LAUNCHER_HOW)"
	$(LAUNCHER_CC) -o $@ $(LAUNCHER_ALL_OBJ) $(LDFLAGS_ALL) \
		$(LAUNCHER_LDFLAGS)

ifeq ($(MUSL_WORKS),yes)
$(MUSL_INC):
	@mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn $(MUSL_ASM) $@/asm

$(LAUNCHER_OBJDIR)/%.o: %.c $(wildcard include/*.h src/*/*.h) | $(MUSL_INC)
	@mkdir -p $(dir $@)
	$(LAUNCHER_CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LAUNCHER_CFLAGS) \
		-c -o $@ $<
endif

# The 32-bit library: the same sources with -m32 and 64-bit file offsets
# and inode numbers (the descriptor table checks inodes). time_t stays
# 32-bit: the hooks must have the ABI of the libc functions whose names
# they take, and 32-bit programs call those of the 32-bit time_t (glibc
# names the 64-bit ones __recvmsg64, __ppoll64...; see hook.h).
# Under SANITIZE=1 it gets UBSan only: on 32-bit x86 the ASan runtime
# makes its own system calls through libc's syscall(), which the library
# hooks, before ASan is ready for instrumented code to run.
SAN32 := $(if $(findstring address,$(SANFLAGS)),-fno-sanitize=address)
obj32 = $(patsubst %.c,$(BUILD)/obj32/%.o,$(1))
LIB32_OBJ := $(call obj32,$(filter-out $(wildcard src/*/io_libc.c),\
	$(CORE_SRC)) $(PRELOAD_SRC))
$(BUILD)/obj32/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) -m32 -D_FILE_OFFSET_BITS=64 $(CPPFLAGS_ALL) $(CFLAGS_ALL) \
		$(SAN32) -c -o $@ $<

$(LIB32): $(LIB32_OBJ) $(MAPFILE)
	@mkdir -p $(dir $@)
	$(CC) -m32 -shared -o $@ $(LIB32_OBJ) $(LDFLAGS_ALL) $(SAN32) \
		$(LIB_DEFS) -Wl,--version-script=$(MAPFILE) -ldl -lpthread

# A relative link, so that the build tree can move.
$(LIB_LINK): $(LIB)
	@mkdir -p $(dir $@)
	ln -sfn $(subst $(eval) ,/,$(patsubst %,..,$(subst /, ,$(LIB_TOKEN))))/$(notdir $(LIB)) $@

# Unit tests link the core modules (and the objects named in the test's
# first line: a bare name is a preload-internal module without hooks, a
# name with a '/' is under src/, e.g. supervise/filter; see tests/unit).
$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(PRELOAD_OBJ) $(SUPERVISE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Isrc $(CFLAGS_ALL) -o $@ $< $(CORE_OBJ) \
		$(foreach m,$(shell sed -n '1s@^/\* *links: *\(.*\)\*/@\1@p' $<),\
			$(BUILD)/obj/src/$(if $(findstring /,$(m)),$(m),preload/$(m)).o) \
		$(LDFLAGS_ALL) -lcmocka -lpthread -ldl

# Snippets export snippet_run (-rdynamic) so libctor.so can call it from its
# constructor; they find libctor.so beside themselves.
$(BUILD)/snippets/%: tests/snippets/%.c tests/snippets/*.h $(CTORLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -rdynamic -o $@ $< $(LDFLAGS_ALL) \
		-L$(BUILD)/snippets -lctor -Wl,-rpath,'$$ORIGIN' -ldl

$(CTORLIB): tests/snippets/ctorlib.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -shared -o $@ $< $(LDFLAGS_ALL) -ldl

$(BUILD)/snippets32/%: tests/snippets/%.c tests/snippets/*.h $(CTORLIB32)
	@mkdir -p $(dir $@)
	$(CC) -m32 $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(SAN32) -rdynamic -o $@ $< \
		$(LDFLAGS_ALL) $(SAN32) -L$(BUILD)/snippets32 -lctor \
		-Wl,-rpath,'$$ORIGIN' -ldl

$(CTORLIB32): tests/snippets/ctorlib.c
	@mkdir -p $(dir $@)
	$(CC) -m32 $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(SAN32) -shared -o $@ $< \
		$(LDFLAGS_ALL) $(SAN32) -ldl

# The stress program links the preload's objects, so their hooks (connect,
# close, getaddrinfo...) are the program's own definitions and take the
# place of libc's, as a preloaded library's would; -rdynamic exports them,
# so calls from shared libraries land there too. Their dlsym(RTLD_NEXT)
# finds ThreadSanitizer's interceptors, then libc. (A TSan-built library
# cannot be preloaded: the TSan runtime must be loaded first.)
$(TSAN_STRESS): tests/tsan/stress.c $(CORE_OBJ) $(PRELOAD_OBJ) \
		$(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Isrc $(CFLAGS_ALL) -rdynamic -o $@ $< \
		$(PRELOAD_OBJ) $(CORE_OBJ) $(LDFLAGS_ALL) -lpthread -ldl

# Sanitizer reports end a test with exit statuses no test uses (the values
# of tests/integration/sanitizers.py), so make shows "Error 86" (ASan) or
# "Error 87" (UBSan) rather than a plain failure.
ifeq ($(SANITIZE),1)
unit: export ASAN_OPTIONS := exitcode=86
unit: export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1:exitcode=87
endif
# ThreadSanitizer's: 88, and the first report ends the program.
TSAN_OPTS := halt_on_error=1:exitcode=88:second_deadlock_stack=1
ifeq ($(TSAN),1)
unit: export TSAN_OPTIONS := $(TSAN_OPTS)
endif
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

snippets: all $(SNIPPET_BIN) $(CTORLIB) $(SNIPPET32_BIN) $(CTORLIB32)
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/snippets/run.sh

integration: all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) $(PYTHON) -m pytest -q -rs \
		tests/integration $(PYTEST_ARGS)

check-exports: $(LIB) $(LIB32)
	sh scripts/check-exports.sh $(LIB) $(MAPFILE)
	$(if $(LIB32),sh scripts/check-exports.sh $(LIB32) $(MAPFILE))

test: all check-exports unit snippets integration

# ThreadSanitizer: the unit tests, then the stress program (tests/tsan/run.sh
# runs it in a network namespace of its own). Builds into build-tsan/
# through a second make with TSAN=1.
ifeq ($(TSAN),1)
tsan-stress: $(TSAN_STRESS)
	BUILD=$(BUILD) TSAN_OPTIONS=$(TSAN_OPTS) sh tests/tsan/run.sh

tsan: unit tsan-stress
else
tsan tsan-stress:
	$(MAKE) TSAN=1 $@
endif

demo: all
	sh scripts/demo.sh

bench: all
	sh bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 755 $(LAUNCHER) $(DESTDIR)$(BINDIR)/socks5wrap
	install -m 644 $(LIB) $(DESTDIR)$(PKGLIBDIR)/libsocks5wrap.so
	$(if $(LIB32),install -d $(DESTDIR)$(PKGLIBDIR32))
	$(if $(LIB32),install -m 644 $(LIB32) \
		$(DESTDIR)$(PKGLIBDIR32)/libsocks5wrap.so)
	install -m 644 man/socks5wrap.1 $(DESTDIR)$(MANDIR)/man1/socks5wrap.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/socks5wrap \
		$(DESTDIR)$(PKGLIBDIR)/libsocks5wrap.so \
		$(if $(LIB32),$(DESTDIR)$(PKGLIBDIR32)/libsocks5wrap.so) \
		$(DESTDIR)$(MANDIR)/man1/socks5wrap.1
	-rmdir $(DESTDIR)$(PKGLIBDIR) $(if $(LIB32),$(DESTDIR)$(PKGLIBDIR32))

clean:
	rm -rf build build-san build-tsan build-fuzz

include tests/fuzz/fuzz.mk
