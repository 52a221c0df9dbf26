// SPDX-License-Identifier: BSD-3-Clause
#include "serverlogging.h"

Q_LOGGING_CATEGORY(lcServer, "synq.server", QtInfoMsg)
