"""The whole product on one machine: moto, in-process Lambda, the gateway, the stand-in."""
