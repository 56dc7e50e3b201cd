# tools/tools.mk: programs that run the stages from outside (`make demo`).
# Included by the top-level Makefile.

TOOL_CXXFLAGS := -std=c++20 -O2 -g -Wall -Wextra -Werror -Icommon
TOOL_LDFLAGS  := -rdynamic -ldl

build/tools/demo: tools/demo.cpp common/sbrk_double.cpp common/sbrk_double.h common/hmalloc_api.h
	@mkdir -p build/tools
	$(CXX) $(TOOL_CXXFLAGS) -o $@ tools/demo.cpp common/sbrk_double.cpp $(TOOL_LDFLAGS)

.PHONY: demo
demo: $(SEL_LIBS) build/tools/demo
	@build/tools/demo $(SEL_LIBS)
