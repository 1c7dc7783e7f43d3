# ~/.bashrc from the fixture skel
